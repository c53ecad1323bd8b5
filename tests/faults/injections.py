"""The faults themselves, as an operator (or the kernel) causes them, on processes of the suite's own
stack only.  Each is a plain blocking function: the load generator runs it in a thread."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil

from tests.support.freezing import freeze
from tests.support.polling import eventually_sync
from tests.support.stack import VENV_BIN, RunningStack
from webui_host.leftovers import find_leftovers

PROGRAMS_GONE_WITHIN = 3.0  # s after kill -9 of the launcher (their stops are bounded at 5 s: never reached)


def restarted(stack: RunningStack, program: str, victims: list[int], count: int) -> None:
    """Wait until ``count`` processes of ``program`` run again, none of them one of ``victims``."""

    def back() -> bool:
        pids = stack.pids(program)
        return len(pids) == count and not set(pids) & set(victims)

    eventually_sync(back, timeout=30, what=f"{program} restarted")


def kill(stack: RunningStack, program: str, how_many: int | None = None) -> None:
    """kill -9 ``how_many`` processes of ``program`` (all by default); returns once supervisord has
    started their replacements."""
    running = stack.pids(program)
    victims = running[:how_many]
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    restarted(stack, program, victims, len(running))


def stopped_for(stack: RunningStack, program: str, seconds: float) -> None:
    """``supervisorctl stop``, an outage of ``seconds``, ``supervisorctl start``."""
    assert "stopped" in stack.supervisorctl("stop", program).lower()
    time.sleep(seconds)  # the outage itself: the load goes on meanwhile
    assert "started" in stack.supervisorctl("start", program).lower()


def frozen_for(stack: RunningStack, program: str, seconds: float) -> None:
    """SIGSTOP then SIGCONT: a process that hangs (swapped out, a stalled disk, a debugger)."""
    (pid,) = stack.pids(program)
    freeze(pid)
    try:
        time.sleep(seconds)  # the freeze itself: the load goes on meanwhile
    finally:
        os.kill(pid, signal.SIGCONT)


def cli(stack: RunningStack, command: str) -> None:
    done = subprocess.run(
        [str(VENV_BIN / "webui-host"), command, "-f", str(stack.config_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def killed_launcher_then_run(stack: RunningStack, restarting: list[float] | None = None) -> None:
    """``kill -9`` of ``webui-host run``: every program dies with it (parent-death signal), nothing is
    left in the state directory, and ``webui-host run`` again serves (same directory, same ports).
    ``restarting`` gets the ``time.monotonic()`` at which the new run began."""
    children = psutil.Process(stack._process.pid).children(recursive=True)
    killed = time.monotonic()
    stack._process.send_signal(signal.SIGKILL)
    stack._process.wait()
    eventually_sync(
        lambda: not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE],
        timeout=30,
        what="every program gone with the launcher",
    )
    # Each stops promptly on its parent-death SIGTERM with etcd and Redis dying too (a signer's groups
    # follower lost its cancellation and held its stop to the 5 s bound, 3 runs in 4, before).
    gone_after = time.monotonic() - killed
    assert gone_after < PROGRAMS_GONE_WITHIN, f"the programs took {gone_after:.1f} s to end"
    assert find_leftovers(stack.config.runtime.state_dir) == []
    if restarting is not None:
        restarting.append(time.monotonic())
    stack.start()
