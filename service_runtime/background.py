"""Loops a process runs for its whole life: one that dies of an error ends the process.

Nothing restarts a loop that raised, and the process still looks alive to its supervisor: a session
daemon whose serving loop died answers no front door, a front door whose groups follower died keeps
its snapshot for ever, a signer whose registration loop died drops out of etcd.  Each loop handles
the faults it expects (Redis or etcd away, a peer gone); an error that escapes one is a fault nobody
planned for.  So it is logged once (``background_task_failed``: the task's name, the error's type and
where it was raised; not its message, which may carry a value) and the process stops with status 1:
supervisord or Kubernetes starts a fresh one.

A task cancelled, one that ends without an error (a loop with nothing to do), or one failing once
the process is stopping, is no failure.  Outside a process (a component test building a front door in
its own loop) a failure is logged and nothing is stopped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

FailureHandler = Callable[[str, BaseException], None]


def raised_at(exc: BaseException) -> str:
    """``file.py:line in function`` of the innermost frame the error went through (no values)."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown"
    frame = frames[-1]
    return f"{os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}"


def log_failure(name: str, exc: BaseException) -> None:
    log.error(
        "background task failed",
        extra={
            "event": "background_task_failed",
            "task": name,
            "error_type": type(exc).__name__,
            "raised_at": raised_at(exc),
        },
    )


_on_failure: FailureHandler = log_failure


def report_failures_to(handler: FailureHandler) -> None:
    """Who hears of a failed task from now on (the process skeleton: ``Process.background_failed``)."""
    global _on_failure
    _on_failure = handler


def run_in_background(coroutine: Coroutine[Any, Any, Any], name: str) -> asyncio.Task:
    """``asyncio.create_task`` for a loop the process cannot do without."""
    task = asyncio.create_task(coroutine, name=name)
    task.add_done_callback(_ended)
    return task


def _ended(task: asyncio.Task) -> None:
    if task.cancelled():
        return
    exc = task.exception()  # (retrieved: no "exception was never retrieved" at collection)
    if exc is not None:
        _on_failure(task.get_name(), exc)
