"""Fault injection: real processes, a steady 100 req/s of signed proxied calls on loopback, one line
per scenario with its figures (requests sent, failed, p99, max).

Every fault here costs zero requests where a retry is safe; Redis being away is answered with fast
503s (and sessions are kept).  Run with ``-s`` to see the lines as they come; they are also printed
past pytest's capture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.faults.load import logged_in, under_load
from tests.support.polling import eventually, eventually_sync
from tests.support.stack import VENV_BIN, RunningStack

pytestmark = pytest.mark.slow

FAST = 2.0  # seconds: the slowest acceptable 503 while Redis is away


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = RunningStack(tmp_path_factory.mktemp("faults"), workers=2, signers=2).start()
    yield running
    running.stop()


@pytest.fixture
def report(capsys):
    def emit(line: str) -> None:
        with capsys.disabled():
            print(f"\n[fault] {line}")

    return emit


def restarted(stack, program: str, victims: list[int], count: int) -> None:
    """Wait until ``count`` processes of ``program`` run again, none of them one of ``victims``."""

    def back() -> bool:
        pids = stack.pids(program)
        return len(pids) == count and not set(pids) & set(victims)

    eventually_sync(back, timeout=30, what=f"{program} restarted")


def kill(stack, program: str, how_many: int | None = None) -> None:
    """kill -9 ``how_many`` processes of ``program`` (all by default); returns once supervisord has
    started their replacements."""
    running = stack.pids(program)
    victims = running[:how_many]
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    restarted(stack, program, victims, len(running))


def cli(stack, command: str) -> None:
    done = subprocess.run(
        [str(VENV_BIN / "webui-host"), command, "-f", str(stack.config_path)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr


SCENARIOS = {
    "kill -9 one signer": lambda stack: kill(stack, "signers:", 1),
    "kill -9 all signers": lambda stack: kill(stack, "signers:"),
    "roll-signers": lambda stack: cli(stack, "roll-signers"),
    "roll-frontdoors": lambda stack: cli(stack, "roll-frontdoors"),
    "kill -9 session daemon": lambda stack: kill(stack, "session_daemon"),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_fault_fails_no_request(stack, report, name):
    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, lambda: SCENARIOS[name](stack))
    finally:
        await session.close()
    report(outcome.line(name))
    assert outcome.sent > 100 and outcome.failed == 0, outcome.kinds()
    # Requests wait for a signer at most pool_wait (plus one signer's request_timeout and the proxying).
    assert outcome.percentile(1.0) < stack.config.signers.pool_wait + 1.0


async def test_restart_of_the_whole_signer_pool_fails_nothing_but_503s_at_pool_wait(stack, report):
    """``supervisorctl restart 'signers:*'`` leaves no signer for as long as the pool takes to stop
    and start (~5 s under this load on 2 vCPUs): requests wait ``pool_wait`` for one, and those that
    it runs out on get 503 then, never later and nothing worse (``roll-signers`` avoids even that)."""
    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, lambda: stack.supervisorctl("restart", "signers:*"))
    finally:
        await session.close()
    unavailable = outcome.count(503)
    report(outcome.line("supervisorctl restart signers:*") + f" (of which 503 at pool_wait: {unavailable})")
    assert outcome.failed == unavailable, outcome.kinds()
    assert outcome.percentile(1.0) < stack.config.signers.pool_wait + 1.0


async def test_redis_restart_answers_fast_503s_and_keeps_sessions(stack, report):
    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, lambda: stack.supervisorctl("restart", "redis"))

        async def signs() -> bool:
            async with session.get("/func/auth?echo=kept") as answer:
                return answer.status == 200

        await eventually(signs, timeout=15, what="the session signing after the Redis restart")
    finally:
        await session.close()
    unavailable = outcome.count(503)
    report(outcome.line("supervisorctl restart redis") + f" (of which fast 503: {unavailable})")
    assert outcome.failed == unavailable, outcome.kinds()  # nothing but 200 and 503
    assert all(seconds < FAST for result, seconds in outcome.results if result == 503)


async def test_redis_away_for_two_seconds_is_fast_503s_then_the_same_sessions(stack, report):
    def outage() -> None:
        stack.supervisorctl("stop", "redis")
        time.sleep(2.0)  # the outage itself: the load generator keeps running meanwhile
        stack.supervisorctl("start", "redis")

    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, outage, after=3.0)

        async def signs() -> bool:
            async with session.get("/func/auth?echo=kept") as answer:
                return answer.status == 200

        await eventually(signs, timeout=15, what="the session signing after Redis came back")
    finally:
        stack.supervisorctl("start", "redis")
        await session.close()
    unavailable = outcome.count(503)
    report(outcome.line("redis stopped for 2 s") + f" (of which fast 503: {unavailable})")
    assert unavailable and outcome.failed == unavailable, outcome.kinds()
    assert all(seconds < FAST for result, seconds in outcome.results if result == 503)
