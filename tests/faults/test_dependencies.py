"""Faults of what the host depends on, under the same steady load: etcd frozen or killed, the Manager
down or stalled, Redis restarted or away.  etcd costs nothing (the last groups snapshot and the
registrations carry on); the Manager's and Redis's absence is answered fast (502, 504 at
``response_timeout``, 503), never by a hang, and everything signs again once they are back."""

from __future__ import annotations

import pytest

from tests.faults.injections import frozen_for, kill, stopped_for
from tests.faults.load import NO_WAIT, logged_in, signs, under_load
from tests.support.polling import eventually

pytestmark = pytest.mark.slow

FAST = 2.0  # seconds: the slowest acceptable fast failure (a 503 while Redis is away, a 502)


async def test_etcd_frozen_for_three_seconds_fails_no_request(stack, report):
    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, lambda: frozen_for(stack, "etcd", 3.0))
    finally:
        await session.close()
    report(outcome.line("etcd frozen (SIGSTOP) for 3 s"))
    outcome.assert_held(slowest=NO_WAIT)


async def test_etcd_killed_fails_no_request(stack, report):
    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, lambda: kill(stack, "etcd"))
    finally:
        await session.close()
    report(outcome.line("kill -9 etcd"))
    outcome.assert_held(slowest=NO_WAIT)


async def test_manager_down_is_a_fast_502_then_signed_calls_again(stack, report):
    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, lambda: stopped_for(stack, "devstack", 2.0), expected=(502,))
        await eventually(lambda: signs(session), timeout=15, what="signed calls once the Manager is back")
    finally:
        stack.supervisorctl("start", "devstack")
        await session.close()
    report(outcome.line("Manager stopped for 2 s"))
    assert outcome.expected_failures, outcome.kinds()
    outcome.assert_held(slowest=stack.config.api.response_timeout + 1.0, fast=FAST)


async def test_manager_stalled_is_a_504_at_response_timeout_then_signed_calls_again(stack, report):
    """A Manager that accepts connections and never answers: 504 once ``response_timeout`` (2 s here)
    has passed, never later; what it answers after the stall is served."""
    timeout = stack.config.api.response_timeout
    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, lambda: frozen_for(stack, "devstack", 3.0), expected=(504,))
        await eventually(lambda: signs(session), timeout=15, what="signed calls once the Manager answers")
    finally:
        await session.close()
    report(outcome.line("Manager frozen (SIGSTOP) for 3 s"))
    assert outcome.expected_failures, outcome.kinds()
    outcome.assert_held(slowest=timeout + 1.0, fast=timeout + 1.0)


async def test_redis_restart_answers_fast_503s_and_keeps_sessions(stack, report):
    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, lambda: stack.supervisorctl("restart", "redis"), expected=(503,))
        await eventually(lambda: signs(session), timeout=15, what="the session signing after the Redis restart")
    finally:
        await session.close()
    report(outcome.line("supervisorctl restart redis"))
    outcome.assert_held(slowest=stack.config.signers.pool_wait + 1.0, fast=FAST)


async def test_redis_away_for_two_seconds_is_fast_503s_then_the_same_sessions(stack, report):
    session = await logged_in(stack.base_url)
    try:
        outcome = await under_load(session, lambda: stopped_for(stack, "redis", 2.0), after=3.0, expected=(503,))
        await eventually(lambda: signs(session), timeout=15, what="the session signing after Redis came back")
    finally:
        stack.supervisorctl("start", "redis")
        await session.close()
    report(outcome.line("Redis stopped for 2 s"))
    assert outcome.expected_failures, outcome.kinds()
    outcome.assert_held(slowest=stack.config.signers.pool_wait + 1.0, fast=FAST)
