"""Faults of what the host depends on, under the same steady load: etcd frozen or killed, the Manager
down or stalled, Redis restarted or away.  etcd costs nothing (the last groups snapshot and the
registrations carry on); the Manager's and Redis's absence is answered fast (502, 504 at
``response_timeout``, 503), never by a hang, and everything signs again once they are back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.faults.injections import frozen_for, kill, stopped_for
from tests.faults.load import NO_WAIT, logged_in, signs, under_load
from tests.support.polling import eventually
from tests.support.stack import RunningStack

pytestmark = pytest.mark.slow

FAST = 2.0  # seconds: the slowest acceptable fast failure (a 503 while Redis is away, a 502)

Limit = Callable[[RunningStack], float]


def no_wait(stack: RunningStack) -> float:
    return NO_WAIT


def fast(stack: RunningStack) -> float:
    return FAST


def past_response_timeout(stack: RunningStack) -> float:
    """A Manager that accepts connections and never answers: 504 once ``response_timeout`` (2 s
    here) has passed, never later."""
    return stack.config.api.response_timeout + 1.0


def past_pool_wait(stack: RunningStack) -> float:
    return stack.config.signers.pool_wait + 1.0


@dataclass(frozen=True)
class Fault:
    """One scenario: what is done to which dependency under the load, and what it may cost."""

    line: str  # the fault's name in the summary line
    inflict: Callable[[RunningStack], object]  # blocking: the load generator runs it in a thread
    slowest: Limit  # no answer may take this long
    expected: tuple[int, ...] = ()  # the failures the fault is expected to cause
    fast: Limit | None = None  # no expected failure may take this long
    must_fail: bool = False  # unset where the fault may pass between two requests (a quick restart)
    after: float = 1.5  # seconds of load after the fault returned
    restore: str | None = None  # the program started again however the scenario ends


FAULTS = [
    Fault("etcd frozen (SIGSTOP) for 3 s", lambda s: frozen_for(s, "etcd", 3.0), no_wait),
    Fault("kill -9 etcd", lambda s: kill(s, "etcd"), no_wait),
    Fault(
        "Manager stopped for 2 s",
        lambda s: stopped_for(s, "devstack", 2.0),
        past_response_timeout,
        expected=(502,),
        fast=fast,
        must_fail=True,
        restore="devstack",
    ),
    Fault(
        "Manager frozen (SIGSTOP) for 3 s",
        lambda s: frozen_for(s, "devstack", 3.0),
        past_response_timeout,
        expected=(504,),
        fast=past_response_timeout,
        must_fail=True,
    ),
    Fault(
        "supervisorctl restart redis",
        lambda s: s.supervisorctl("restart", "redis"),
        past_pool_wait,
        expected=(503,),
        fast=fast,
    ),
    Fault(
        "Redis stopped for 2 s",
        lambda s: stopped_for(s, "redis", 2.0),
        past_pool_wait,
        expected=(503,),
        fast=fast,
        must_fail=True,
        after=3.0,
        restore="redis",
    ),
]


@pytest.mark.parametrize("fault", FAULTS, ids=[fault.line for fault in FAULTS])
async def test_dependency_fault_fails_fast_then_signed_calls_again(stack, report, fault: Fault):
    """No failure but the expected, fast ones while the fault lasts; the same session signs once
    the dependency is back."""
    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, lambda: fault.inflict(stack), after=fault.after, expected=fault.expected)
        await eventually(lambda: signs(session), timeout=15, what=f"signed calls after: {fault.line}")
    finally:
        if fault.restore:
            stack.supervisorctl("start", fault.restore)
        await session.close()
    report(outcome.line(fault.line))
    if fault.must_fail:
        assert outcome.expected_failures, outcome.kinds()
    outcome.assert_held(slowest=fault.slowest(stack), fast=fault.fast(stack) if fault.fast else None)
