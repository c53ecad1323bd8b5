"""Fault injection into our own processes: real processes, a steady 100 req/s of signed proxied calls
on loopback, one line per scenario with its figures (requests sent, ok, failed, expected fast
failures, p50/p99/max latency).

Every fault here costs zero requests where a retry is safe.  Run with ``-s`` to see the lines as
they come; they are also printed past pytest's capture and summed up at the end of the run.
"""

from __future__ import annotations

import pytest

from tests.faults.injections import cli, kill, killed_launcher_then_run, stopped_for
from tests.faults.load import NO_WAIT, REFUSED, logged_in, signs, under_load
from tests.support.polling import eventually

pytestmark = pytest.mark.slow


SCENARIOS = {
    "kill -9 one signer": lambda stack: kill(stack, "signers:", 1),
    "kill -9 all signers": lambda stack: kill(stack, "signers:"),
    # Every signer stopped, then started: requests wait for one (pool_wait is above the time it takes).
    "supervisorctl restart signers:*": lambda stack: stack.supervisorctl("restart", "signers:*"),
    "roll-signers": lambda stack: cli(stack, "roll-signers"),
    "roll-frontdoors": lambda stack: cli(stack, "roll-frontdoors"),
    "kill -9 session daemon": lambda stack: kill(stack, "session_daemon"),
    "session daemon stopped for 2 s": lambda stack: stopped_for(stack, "session_daemon", 2.0),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
async def test_fault_fails_no_request(stack, report, name):
    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, lambda: SCENARIOS[name](stack))
    finally:
        await session.close()
    report(outcome.line(name))
    # Requests wait for a signer at most pool_wait (plus one signer's request_timeout and the proxying).
    outcome.assert_held(slowest=stack.config.signers.pool_wait + 1.0)


async def test_launcher_killed_then_run_again_refuses_fast_meanwhile_and_keeps_sessions(stack, report):
    """The whole host is down between the kill and the new ``run``: connections are refused at once
    (no hang); requests in flight at the kill, whose Manager and signers get SIGTERM at the same
    instant as their front door, get a fast 502 or 503 (a draining front door does not wait for a
    signer); the sessions of before work after it (Redis keeps them on disk).  While the new run starts, its front doors may serve before
    the embedded development Manager listens (supervisord starts programs in order without waiting
    for each): those get the Manager-down answer, a fast 502, and are not counted as the kill's."""
    session = await logged_in(stack.base_url)
    restarting: list[float] = []
    try:
        outcome = await under_load(
            session, lambda: killed_launcher_then_run(stack, restarting), expected=(REFUSED, 502, 503)
        )
        await eventually(lambda: signs(session), timeout=15, what="the session of before signing again")
    finally:
        await session.close()
    at_the_kill = outcome.count_sent_before(restarting[0], 502, 503)
    report(outcome.line("kill -9 webui-host run, then run again") + f"; 502/503 sent before the new run: {at_the_kill}")
    assert at_the_kill <= 10, outcome.kinds()  # only what was in flight at the kill
    # Every failure fast: the orphaned front doors close their listeners without a hand-over (nobody
    # would take it) and answer a request that lost its signer at once.  Before, a request in flight at
    # the kill sat in a draining front door until its deadline (4-7 s), then its connection was cut.
    outcome.assert_held(slowest=stack.config.signers.pool_wait + 1.0, fast=NO_WAIT)
