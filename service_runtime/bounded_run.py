"""``uvloop.run``, except that a task ignoring its cancellation cannot hold the process's exit.

``asyncio.run`` ends by cancelling every task left and waiting for all of them, without a bound: one
task that catches its ``CancelledError`` and goes on (a reconnecting loop that swallowed it, as a
groups follower did inside ``asyncio.wait_for`` on Python 3.11) keeps the process alive for ever,
its work done, its parent long gone (seen: a front door orphaned by ``kill -9`` of the launcher, still
there 48 minutes later).  Here the tasks left get ``LEFT_TASKS_GRACE`` to end once cancelled; those
that do not are named in one ``exit_tasks_left`` line and abandoned with the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

log = logging.getLogger(__name__)

LEFT_TASKS_GRACE = 2.0
EXECUTOR_GRACE = 2.0  # threads of asyncio.to_thread still running at exit

T = TypeVar("T")


def run_bounded(main: Coroutine[Any, Any, T]) -> T:
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(main)
    finally:
        try:
            loop.run_until_complete(_end_tasks_left(loop))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(_shut_down_executor(loop))
        finally:
            asyncio.set_event_loop(None)
            loop.close()


async def _end_tasks_left(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if task is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    done, pending = await asyncio.wait(tasks, timeout=LEFT_TASKS_GRACE)
    for task in done:  # retrieved: no "exception was never retrieved" at collection
        if not task.cancelled():
            task.exception()
    if pending:
        log.warning(
            "tasks still running at exit, abandoned",
            extra={"event": "exit_tasks_left", "tasks": sorted(task.get_name() for task in pending)},
        )
        for task in pending:  # (destroyed with the loop: asyncio would log each as "destroyed but pending")
            task._log_destroy_pending = False


async def _shut_down_executor(loop: asyncio.AbstractEventLoop) -> None:
    try:
        async with asyncio.timeout(EXECUTOR_GRACE):
            await loop.shutdown_default_executor()
    except TimeoutError:
        log.warning("executor threads still running at exit", extra={"event": "exit_threads_left"})
