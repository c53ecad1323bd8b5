"""The one way tests wait: poll a condition until it holds or a deadline passes (no fixed sleeps)."""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Awaitable, Callable


async def eventually(
    check: Callable[[], Any | Awaitable[Any]], timeout: float = 20.0, interval: float = 0.1, what: str = "condition"
) -> Any:
    """The first truthy result of ``check`` (sync or async); an AssertionError inside it counts as
    not yet, and the last one is re-raised at the deadline so the failure says what was wrong."""
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
        await asyncio.sleep(interval)


def eventually_sync(
    check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1, what: str = "condition"
) -> Any:
    """``eventually`` for synchronous tests."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(interval)
