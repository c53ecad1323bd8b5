"""A deadline for the headers of a connection's first request (slow and silent clients).

aiohttp 3.14 has no header-read timeout.  Its ``keepalive_timeout`` (set on the runner) closes a
connection that stays idle, before its first request and after each answer, and is not pushed back
by bytes that trickle in, so it also ends half-sent requests; but it must be long enough for a
browser's idle keep-alive.  This module adds the shorter bound for a new connection: it must have
sent a whole request head within ``header_read_timeout`` or it is closed.  It hooks the three
per-connection callbacks of aiohttp's ``web.Server`` (all public attributes of the object the
runner builds), so no aiohttp class is subclassed or patched globally.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from aiohttp import web

log = logging.getLogger(__name__)


class HeaderDeadlines:
    def __init__(self, timeout: float | Callable[[], float]):
        # A callable is read at each new connection, so a reloaded setting applies without a hook.
        self._timeout = timeout if callable(timeout) else (lambda: timeout)
        self.expired = 0  # connections closed for want of a request head
        self._timers: dict[object, asyncio.TimerHandle] = {}

    @property
    def timeout(self) -> float:
        return self._timeout()

    def install(self, server: web.Server) -> None:
        """Call after ``runner.setup()`` and before a site starts (handlers copy these at creation)."""
        made, lost, factory = server.connection_made, server.connection_lost, server.request_factory

        def connection_made(handler, transport) -> None:
            made(handler, transport)
            loop = asyncio.get_running_loop()
            self._timers[handler] = loop.call_later(self.timeout, self._expire, handler, transport)

        def connection_lost(handler, exc=None) -> None:
            self._cancel(handler)
            lost(handler, exc)

        def request_factory(message, payload, protocol, writer, task):
            self._cancel(protocol)  # the head is complete (or unparseable, and answered with 400)
            return factory(message, payload, protocol, writer, task)

        server.connection_made = connection_made
        server.connection_lost = connection_lost
        server.request_factory = request_factory

    def _cancel(self, handler) -> None:
        timer = self._timers.pop(handler, None)
        if timer is not None:
            timer.cancel()

    def _expire(self, handler, transport: asyncio.BaseTransport) -> None:
        self._timers.pop(handler, None)
        self.expired += 1
        if self.expired & (self.expired - 1) == 0:  # 1, 2, 4, ...: a slowloris cannot flood the log
            log.info(
                "closed a connection that sent no request head in time",
                extra={"event": "header_timeout", "timeout": self.timeout, "count": self.expired},
            )
        transport.close()
