"""What a process's start has made that holds sockets, closed at once when the start fails.

A start that fails midway (a file missing, a port taken, a warning made an error) must end the process
promptly, so that supervisord or Kubernetes restarts it.  Left to the garbage collector, a ZeroMQ context
whose sockets are still open can keep the process for ever: collected in one cycle with its sockets,
the context's weak set of sockets is emptied before its finaliser runs, so its ``destroy()`` closes
nothing and its ``term()`` waits on sockets nobody will close.  So each component registers how to close
what it made as soon as it has made it, and a failed start closes it all, the last made first.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Callable, TypeVar

import zmq

log = logging.getLogger(__name__)
CLOSE_WITHIN = 2.0  # seconds for each asynchronous close (a client towards a dead Redis must not keep us)
T = TypeVar("T")


class StartResources:
    def __init__(self) -> None:
        self._closers: list[tuple[str, Callable[[], object]]] = []

    def add(self, what: str, close: Callable[[], object]) -> None:
        """``close()`` (synchronous, or returning an awaitable) undoes ``what`` if the start fails."""
        self._closers.append((what, close))

    def zmq_context(self, context: T) -> T:
        """The context, to be destroyed with every socket of it closed at linger 0 (nothing waits)."""
        assert isinstance(context, zmq.Context)
        self.add("zmq context", lambda: context.destroy(linger=0))
        return context

    async def close_all(self) -> None:
        """Close everything registered, the last first; a close that fails or lingers is logged, never
        raised: the start's own failure is the one to report."""
        closers, self._closers = self._closers, []
        for what, close in reversed(closers):
            try:
                result = close()
                if inspect.isawaitable(result):
                    async with asyncio.timeout(CLOSE_WITHIN):
                        await result
            except Exception as exc:  # (TimeoutError too)
                log.warning(
                    "not closed after a failed start",
                    extra={"event": "startup_cleanup", "what": what, "error": type(exc).__name__},
                )
