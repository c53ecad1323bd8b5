"""A front door told to stop while its start waits for a signer stops at once, without listening (real
entry, real etcd and redis-server, no signer).  Before: it waited ``pool_wait`` out, listened, then
drained (18 s with ``pool_wait = 20``)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.failing_start import host_config
from tests.support.paths import REPO_ROOT
from tests.support.polling import eventually_sync

POOL_WAIT = 20


@pytest.fixture(scope="module")
def config() -> Path:
    with host_config() as path:
        path.write_text(path.read_text() + f"[signers]\npool_wait = {POOL_WAIT}\n")
        yield path


def events(output: Path) -> list[str]:
    found = []
    for line in output.read_text().splitlines():
        if line.startswith("{"):
            found.append(json.loads(line).get("event"))
    return found


def test_a_sigterm_while_waiting_for_a_signer_ends_the_start_without_listening(config: Path, tmp_path: Path):
    output = tmp_path / "output"
    with output.open("wb") as sink:
        child = subprocess.Popen(
            [sys.executable, "-m", "frontdoor", "-f", str(config), "--worker", "0"],
            cwd=REPO_ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        eventually_sync(lambda: "waiting_for_signers" in events(output), timeout=30, what="the wait for a signer")
        asked = time.monotonic()
        child.send_signal(signal.SIGTERM)
        assert child.wait(POOL_WAIT) == 0
        assert time.monotonic() - asked < 3.0
        assert "startup" not in events(output)  # it never listened
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
