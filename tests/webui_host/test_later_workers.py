"""``webui-host run`` under a real supervisord: the second front door and the second signer start once a
front door listens (it does only once a signer is connected to it: the first answer needs one of each,
and a start is CPU-bound), or after the bound when none does; restarts while one serves do not wait."""

from __future__ import annotations

import json

import pytest

from tests.support.polling import eventually_sync
from tests.support.stack import RunningStack
from webui_host.parent_bound import LATER_WORKER_WAIT

pytestmark = pytest.mark.slow

# A front door logs that it listens right after its socket is up; the wrapper of a later worker may see
# the socket a little earlier than that line (more on a loaded host).
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


def started_by_the_rule(start: dict, first_listening: dict, own_ready: dict) -> None:
    """A later worker was exec'd once the first front door listened, or, on a machine so loaded that it
    took longer than the bound, after the bound and not after it listened; before its own ready line."""
    if start["outcome"] == "serving":
        # It waited (the first's imports alone take longer than this: 0.48 s seen on a fast day, ~1 s usual).
        assert start["waited"] >= 0.2, start
        assert first_listening["ts"] - LOG_AFTER_SOCKET <= start["ts"], (first_listening, start)
    else:
        assert start["waited"] >= LATER_WORKER_WAIT, start
        assert start["ts"] <= first_listening["ts"] + LOG_AFTER_SOCKET, (first_listening, start)
    assert start["ts"] <= own_ready["ts"]


def test_the_second_workers_start_after_a_front_door_listens_and_restarts_follow_the_same_rule(tmp_path):
    stack = RunningStack(tmp_path, signers=2, workers=2).start()
    try:
        # A start: worker 1 of each pool is exec'd once front door 0 listens (so signer 0 serves too).
        first_door, second_door = listening(stack, "frontdoor_00"), listening(stack, "frontdoor_01")
        started_by_the_rule(later_start(stack, "frontdoor_01"), first_door, second_door)
        second_signer = the_nth(stack, "signer_01", "signer_ready")
        started_by_the_rule(later_start(stack, "signer_01"), first_door, second_signer)
        assert log_lines(stack, "frontdoor_00", "later_worker_start") == []  # the first never waits
        assert log_lines(stack, "signer_00", "later_worker_start") == []

        # A later worker restarted while a front door serves (a roll, a supervisorctl restart): no wait.
        stack.supervisorctl("restart", "frontdoor:frontdoor_01")
        assert later_start(stack, "frontdoor_01", 2)["waited"] < 0.5
        listening(stack, "frontdoor_01", 2)
        stack.supervisorctl("restart", "signers:signer_01")
        assert later_start(stack, "signer_01", 2)["waited"] < 0.5
        the_nth(stack, "signer_01", "signer_ready", 2)

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

        # No front door serves, every signer does: a later signer restarted waits the bound all the same.
        stack.supervisorctl("stop", "frontdoor:frontdoor_01")
        stack.supervisorctl("restart", "signers:signer_01")
        gave_up = later_start(stack, "signer_01", 3)
        assert gave_up["outcome"] == "timeout" and gave_up["waited"] >= LATER_WORKER_WAIT
        the_nth(stack, "signer_01", "signer_ready", 3)
    finally:
        stack.stop()
