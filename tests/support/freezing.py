"""Freezing a process for a test: SIGSTOP, then wait until every thread of it has stopped.

``kill(SIGSTOP)`` returns before the process stops: the kernel hands the stop to one thread, which
must be scheduled to spread it to the others, and meanwhile another thread (a Go server's network
poller, say) may still wake on a packet and answer it.  On a loaded host that window is long enough for
a request sent right after the signal to be answered, so a test that means "frozen" waits for it.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.support.polling import eventually_sync


def thread_states(pid: int) -> list[str]:
    """The scheduler state letter of each thread of ``pid`` (``T``: stopped by a signal)."""
    states = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        states.append(stat.rpartition(")")[2].split()[0])  # the name in parentheses may hold spaces
    return states


def freeze(pid: int, timeout: float = 10.0) -> None:
    """Stop ``pid`` and return once none of its threads can run any more."""
    os.kill(pid, signal.SIGSTOP)
    eventually_sync(
        lambda: all(state == "T" for state in thread_states(pid)), timeout=timeout, interval=0.002, what="stopped"
    )


def thaw(pid: int) -> None:
    os.kill(pid, signal.SIGCONT)
