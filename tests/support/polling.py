"""The one way tests wait: poll a condition until it holds or a deadline passes (no fixed sleeps).

One loop (``_poll``) with two faces: ``eventually`` for async tests sleeps with ``asyncio.sleep``;
``eventually_sync`` gives the same loop a blocking sleep, so it never suspends and runs to its end
without an event loop.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Awaitable, Callable


async def _poll(
    check: Callable[[], Any | Awaitable[Any]],
    timeout: float,
    interval: float,
    what: str,
    sleep: Callable[[float], Awaitable[None]],
) -> Any:
    """The first truthy result of ``check``; an AssertionError inside it counts as not yet, and the
    last one is re-raised at the deadline so the failure says what was wrong."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        await sleep(interval)


async def eventually(
    check: Callable[[], Any | Awaitable[Any]], timeout: float = 20.0, interval: float = 0.1, what: str = "condition"
) -> Any:
    """The first truthy result of ``check`` (sync or async), polled every ``interval`` seconds."""
    return await _poll(check, timeout, interval, what, asyncio.sleep)


def eventually_sync(
    check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1, what: str = "condition"
) -> Any:
    """``eventually`` for synchronous tests (``check`` must be synchronous)."""
    polling = _poll(check, timeout, interval, what, _blocking_sleep)
    try:
        polling.send(None)  # the loop never suspends: it returns or raises right here
    except StopIteration as done:
        return done.value
    polling.close()
    raise TypeError("eventually_sync got a check that needs an event loop: use eventually")


async def _blocking_sleep(seconds: float) -> None:
    time.sleep(seconds)
