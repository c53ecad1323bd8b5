"""The eighth session's micro-benchmarks run: every item's old and new code, this checkout as the baseline."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from prometheus_client import values

from bench import frontcuts

ROOT = Path(__file__).resolve().parents[2]


async def test_every_item_runs_its_old_and_new_code(monkeypatch, tmp_path):
    # The items set process-wide state up as the front door has it: all of it is put back afterwards.
    root = logging.getLogger()
    monkeypatch.setattr(frontcuts, "BASELINE", ROOT)
    monkeypatch.setattr(values, "ValueClass", values.ValueClass)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    for name in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing"):
        monkeypatch.setattr(logging, name, getattr(logging, name))
    level = root.level
    try:
        for name, make in frontcuts.ITEMS.items():
            made = make()
            old, new = (await made) if asyncio.iscoroutine(made) else made
            for call in (old, new):
                call()
            assert frontcuts.best_of(new, 10) >= 0, name
    finally:
        root.setLevel(level)
