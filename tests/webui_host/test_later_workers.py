"""``webui-host run`` under a real supervisord: the second front door and the second signer start once a
first one serves (the first answer needs one of each, and a start is CPU-bound), or after the bound
when none does; restarts while one serves do not wait, and a stale socket file is not a serving signer."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from contract.host_layout import signer_endpoint
from tests.support.polling import eventually_sync
from tests.support.stack import RunningStack
from webui_host.parent_bound import LATER_WORKER_WAIT

pytestmark = pytest.mark.slow

# A worker logs that it listens (front door) or is ready (signer) right after its socket is up; the
# wrapper of a later worker may see the socket a little earlier than that line (more on a loaded host).
LOG_AFTER_SOCKET = 0.3


def log_lines(stack: RunningStack, program: str, event: str) -> list[dict]:
    path = stack.config.runtime.state_dir / "logs" / f"{program}.log"
    found = []
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and doc.get("event") == event:
            found.append(doc)
    return found


def the_nth(stack: RunningStack, program: str, event: str, n: int = 1, timeout: float = 60.0) -> dict:
    """The n-th ``event`` line of the program's log, once it is there."""
    return eventually_sync(
        lambda: (lines := log_lines(stack, program, event)) and len(lines) >= n and lines[n - 1],
        timeout=timeout,
        interval=0.1,
        what=f"{n} {event} line(s) of {program}",
    )


def listening(stack, program, n=1):
    return the_nth(stack, program, "startup", n)


def later_start(stack, program, n=1):
    return the_nth(stack, program, "later_worker_start", n)


def started_by_the_rule(start: dict, first_ready: dict, own_ready: dict) -> None:
    """A later worker was exec'd once the first served, or, on a machine so loaded that the first took
    longer than the bound, after the bound and not after the first served; before its own ready line."""
    if start["outcome"] == "serving":
        # The first serves ~0.5 s of imports at least after both were spawned together.
        assert start["waited"] >= 0.5, start
        assert first_ready["ts"] - LOG_AFTER_SOCKET <= start["ts"], (first_ready, start)
    else:
        assert start["waited"] >= LATER_WORKER_WAIT, start
        assert start["ts"] <= first_ready["ts"] + LOG_AFTER_SOCKET, (first_ready, start)
    assert start["ts"] <= own_ready["ts"]


def stale_signer_socket(stack: RunningStack, index: int) -> Path:
    """Signer ``index``'s socket file as its killed process would leave it (zmq unlinks it on a clean stop)."""
    path = Path(signer_endpoint(stack.config, f"{socket.gethostname()}-signer-{index}").removeprefix("ipc://"))
    path.unlink(missing_ok=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
    return path


def test_the_second_workers_start_after_the_first_serve_and_restarts_follow_the_same_rule(tmp_path):
    stack = RunningStack(tmp_path, signers=2, workers=2).start()
    try:
        # A start: worker 1 of each pool is exec'd once worker 0 serves, having waited most of its start.
        first_door, second_door = listening(stack, "frontdoor_00"), listening(stack, "frontdoor_01")
        started_by_the_rule(later_start(stack, "frontdoor_01"), first_door, second_door)
        first_signer = the_nth(stack, "signer_00", "signer_ready")
        second_signer = the_nth(stack, "signer_01", "signer_ready")
        started_by_the_rule(later_start(stack, "signer_01"), first_signer, second_signer)
        assert log_lines(stack, "frontdoor_00", "later_worker_start") == []  # the first never waits
        assert log_lines(stack, "signer_00", "later_worker_start") == []

        # A later worker restarted while the first serves (a roll, a supervisorctl restart): no wait.
        stack.supervisorctl("restart", "frontdoor:frontdoor_01")
        assert later_start(stack, "frontdoor_01", 2)["waited"] < 0.5
        listening(stack, "frontdoor_01", 2)

        # The first restarted while no other serves: it does not wait on itself.
        stack.supervisorctl("stop", "frontdoor:frontdoor_01")
        stack.supervisorctl("restart", "frontdoor:frontdoor_00")
        listening(stack, "frontdoor_00", 2)
        assert log_lines(stack, "frontdoor_00", "later_worker_start") == []

        # No front door serves: a later one starts anyway after the bound.
        stack.supervisorctl("stop", "frontdoor:frontdoor_00")
        stack.supervisorctl("start", "frontdoor:frontdoor_01")
        gave_up = later_start(stack, "frontdoor_01", 3)
        assert (gave_up["outcome"], gave_up["level"]) == ("timeout", "warning")
        assert gave_up["waited"] >= LATER_WORKER_WAIT
        listening(stack, "frontdoor_01", 3)

        # A signer socket file left by a killed signer is not a serving signer.
        stack.supervisorctl("stop", "signers:signer_00")
        stale_signer_socket(stack, 0)
        stack.supervisorctl("restart", "signers:signer_01")
        gave_up = later_start(stack, "signer_01", 2)
        assert gave_up["outcome"] == "timeout" and gave_up["waited"] >= LATER_WORKER_WAIT
        the_nth(stack, "signer_01", "signer_ready", 2)
    finally:
        stack.stop()
