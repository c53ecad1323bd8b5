"""``webui-host run``: the whole stack comes up, and SIGTERM to the foreground process stops all of it."""

from __future__ import annotations

import psutil
import pytest

from tests.support.stack import RunningStack

pytestmark = pytest.mark.slow


def test_sigterm_stops_every_process_it_started(tmp_path):
    stack = RunningStack(tmp_path, signers=2, workers=2).start()
    names = ("redis", "etcd", "devstack", "session_daemon", "signers:", "frontdoor")
    try:
        pids = {name: stack.pids(name) for name in names}
        assert [len(pids[name]) for name in names] == [1, 1, 1, 1, 2, 2], pids
        command_lines = {name: " ".join(psutil.Process(pids[name][0]).cmdline()) for name in names}
        assert "-m session_daemon" in command_lines["session_daemon"]
        assert "-m signer_worker" in command_lines["signers:"]
        assert "-m frontdoor" in command_lines["frontdoor"]
    finally:
        stack.stop()  # (a failed check must not leave the stack running for the rest of the suite)
    survivors = [
        pid
        for group in pids.values()
        for pid in group
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    assert survivors == []
