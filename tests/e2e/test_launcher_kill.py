"""``webui-host run`` killed with -9 (an OOM kill, an operator's mistake): its programs must not live
on as orphans holding the ports, and the next ``run`` in the same state directory must start."""

from __future__ import annotations

import signal
import subprocess
import sys

import psutil
import pytest

from tests.support.polling import eventually_sync
from tests.support.stack import RunningStack
from webui_host.leftovers import STATE_DIR_ENV, find_leftovers, reap

pytestmark = pytest.mark.slow


def test_programs_die_with_a_killed_launcher_and_run_starts_again(tmp_path):
    stack = RunningStack(tmp_path, signers=1).start()
    try:
        children = psutil.Process(stack._process.pid).children(recursive=True)
        assert len(children) >= 5  # redis, etcd, devstack, daemon, signer, front door
        stack._process.send_signal(signal.SIGKILL)
        stack._process.wait()
        eventually_sync(
            lambda: not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE],
            timeout=30,
            what="every program gone",
        )
        assert find_leftovers(stack.config.runtime.state_dir) == []
        stack.start()  # same state directory, same ports
    finally:
        stack.stop()


def test_a_new_run_reaps_what_an_old_one_left(tmp_path):
    """Programs started before parent-death signals existed are found by their state directory."""
    state = tmp_path / "state"
    marked = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], env={STATE_DIR_ENV: str(state)}, start_new_session=True
    )
    other = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={STATE_DIR_ENV: str(tmp_path / "elsewhere")},
        start_new_session=True,
    )
    try:
        assert find_leftovers(state) == [marked.pid]
        assert reap([marked.pid], grace=5) == []  # it stopped on SIGTERM
        assert marked.wait(timeout=5) == -signal.SIGTERM and other.poll() is None
    finally:
        for process in (marked, other):
            process.kill()
            process.wait()
