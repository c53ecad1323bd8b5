"""The ninth session's guard micro-benchmarks run: every item's old and new code, this checkout as the baseline."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from bench import frontcuts, guardcuts

ROOT = Path(__file__).resolve().parents[2]


async def test_every_item_runs_its_old_and_new_code(monkeypatch):
    root = logging.getLogger()  # (the request line's item sets the logging tree up as a process has it)
    monkeypatch.setattr(frontcuts, "BASELINE", ROOT)
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    for name in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing"):
        monkeypatch.setattr(logging, name, getattr(logging, name))
    level = root.level
    try:
        for name, make in guardcuts.ITEMS.items():
            made = make()
            old, new = (await made) if asyncio.iscoroutine(made) else made
            for call in (old, new):
                call()
            assert frontcuts.best_of(new, 10) >= 0, name
    finally:
        root.setLevel(level)
