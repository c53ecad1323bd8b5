"""Both faces of the polling helper behave as one loop: same results, same failures."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from tests.support.polling import eventually, eventually_sync


def counting_to(n: int):
    calls = itertools.count(1)
    return lambda: (call := next(calls)) >= n and call


def failing_assertion():
    raise AssertionError("the thing is still wrong")


async def test_async_face_returns_the_first_truthy_result_of_a_sync_or_async_check():
    assert await eventually(counting_to(3), timeout=5, interval=0.01) == 3
    count = counting_to(2)

    async def async_check():
        await asyncio.sleep(0)
        return count()

    assert await eventually(async_check, timeout=5, interval=0.01) == 2


def test_sync_face_returns_the_first_truthy_result():
    assert eventually_sync(counting_to(3), timeout=5, interval=0.01) == 3


async def test_both_faces_reraise_the_checks_last_assertion_at_the_deadline():
    with pytest.raises(AssertionError, match="still wrong"):
        await eventually(failing_assertion, timeout=0.05, interval=0.01)
    with pytest.raises(AssertionError, match="still wrong"):
        eventually_sync(failing_assertion, timeout=0.05, interval=0.01)


async def test_both_faces_name_what_was_not_met():
    with pytest.raises(AssertionError, match="ready not met within 0.05 s"):
        await eventually(lambda: False, timeout=0.05, interval=0.01, what="ready")
    with pytest.raises(AssertionError, match="ready not met within 0.05 s"):
        eventually_sync(lambda: False, timeout=0.05, interval=0.01, what="ready")


def test_sync_face_refuses_a_check_that_needs_an_event_loop():
    async def waits_for_the_loop():
        await asyncio.sleep(0)  # hands control to a loop there is none of
        return True

    with pytest.raises(TypeError, match="use eventually"):
        eventually_sync(waits_for_the_loop, timeout=1, interval=0.01)
