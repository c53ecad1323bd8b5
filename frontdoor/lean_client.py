"""The lean upstream client: proxied requests without a body to stream, on kept-alive ``UpstreamConnection``s.

aiohttp's client cost the front door ~100 µs of CPU per proxied request more than a bare protocol
(docs/performance.md, "Is aiohttp's client the floor?").  This client does only what a bodiless
proxied request needs: one in-memory write (no body, or one the front door holds already: an
``X-BackendAI-Encoded`` body it had decoded), a strictly parsed answer (``frontdoor.upstream_wire``), a
pool of kept-alive connections per endpoint.  Requests with a body to stream (uploads) and WebSocket
handshakes stay on aiohttp's client; ``lean_client_serves`` decides, per request, with no I/O.

As aiohttp's connector did: at most ``limit`` connections in use at once, idle ones closed after
``KEEPALIVE`` seconds, TLS with the same verification (``service_runtime.http1.client_tls``), the
connect timeout read at each connect (``[api] connect_timeout`` is reloadable), and an idempotent
request sent once more on a fresh connection when a kept-alive one was closed before any byte of
its answer (RFC 9112 §9.3.1, aiohttp's ``retry_persistent_connection``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable

from yarl import URL

from frontdoor.upstream import Fields
from frontdoor.upstream_wire import AnswerLate, ConnectionLost, UpstreamConnection
from service_runtime.http1 import request_bytes

KEEPALIVE = 30.0  # seconds an idle connection is kept (aiohttp's connector: keepalive_timeout=30)
# Methods the lean client sends; any other goes through aiohttp's client.
LEAN_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "POST", "PUT", "PATCH"})
# aiohttp sends these with ``Content-Length: 0`` when they have no body; so do we.
EMPTY_BODY_LENGTH = frozenset({"POST", "PUT", "PATCH"})
# aiohttp's IDEMPOTENT_METHODS: sent once more when the connection broke before the answer began.
RETRIED_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
Endpoint = tuple[bool, str, int]  # (TLS, host, port)


class NotConnected(Exception):
    """No connection could be made (refused, unresolvable, TLS refused): nothing was sent."""


class ConnectTimeout(NotConnected):
    """Connecting (the TLS handshake included) took longer than ``[api] connect_timeout``."""


def lean_client_serves(method: str, *, body_to_stream: bool, websocket: bool, scheme: str) -> bool:
    """Whether a proxied request goes through the lean client (else aiohttp's): nothing to stream up,
    no upgrade."""
    return not body_to_stream and not websocket and method in LEAN_METHODS and scheme in ("http", "https")


def fields_wire(method: str, target: str, fields: Fields, body: bytes = b"") -> bytes:
    """The request's bytes (``http1.request_bytes``) from ``Prework.fields``: Host first, the others in
    their order, ``Content-Length`` (when not given, it must be the body's) added as aiohttp adds it.
    Takes Host out of ``fields``."""
    host = fields.pop("host", None)
    if host is None:
        raise ValueError("no Host header")
    pairs = fields.values()
    if (body or method in EMPTY_BODY_LENGTH) and "content-length" not in fields:
        pairs = [*pairs, ("Content-Length", str(len(body)))]
    return request_bytes(method, host[1], target, pairs, body)


def endpoint_of(url: URL) -> Endpoint:
    return url.scheme == "https", url.raw_host or "", url.port or (443 if url.scheme == "https" else 80)


class LeanClient:
    def __init__(self, *, limit: int, tls: ssl.SSLContext, connect_timeout: Callable[[], float]):
        self._slots = Slots(limit) if limit else None
        self._tls = tls
        self._connect_timeout = connect_timeout
        self._idle: dict[Endpoint, list[UpstreamConnection]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None  # kept at first use (``now``)
        self._sweep: asyncio.TimerHandle | None = None

    async def send_wire(
        self, endpoint: Endpoint, method: str, wire: bytes, deadline: float | None = None
    ) -> UpstreamConnection:
        """Send ``wire`` (``fields_wire``'s bytes) to ``endpoint``: a connection whose answer's head has
        arrived (``head()`` returns at once); hand it back with ``release``.  NotConnected: nothing left;
        MalformedAnswer, ConnectionLost: see their docs; AnswerLate: the head had not arrived by
        ``deadline`` (the loop's time), waiting for a free connection and connecting included."""
        if self._slots is not None and not self._slots.take():
            waiting = self._slots.wait()
            await (waiting if deadline is None else _before(deadline, waiting))
        retry = method in RETRIED_METHODS
        try:  # (one coroutine: each level awaited costs every proxied request)
            while True:
                connection = self._pooled(endpoint)
                if connection is None:
                    connecting = self._connect(endpoint)
                    connection = await (connecting if deadline is None else _before(deadline, connecting))
                connection.begin(wire, head_only=method == "HEAD", deadline=deadline)
                try:
                    await connection.head()
                    return connection
                except ConnectionLost as exc:
                    connection.close()
                    if not retry or exc.answered:
                        raise
                    retry = False
                except BaseException:  # a refused answer, a timeout, a browser gone: never reused
                    connection.close()
                    raise
        except BaseException:
            self._free_slot()
            raise

    def release(self, connection: UpstreamConnection, where: URL | Endpoint) -> None:
        """Back to the pool of ``where`` (the URL sent to, or its ``Endpoint``) when its answer was read
        to the end and it may live; closed otherwise."""
        self._free_slot()
        if not connection.reusable:
            connection.close()
            return
        connection.idle()
        connection.idle_since = self.now()
        endpoint = where if type(where) is tuple else endpoint_of(where)
        self._idle.setdefault(endpoint, []).append(connection)
        if self._sweep is None:
            self._sweep = self._loop.call_later(KEEPALIVE, self._close_expired)

    def now(self) -> float:
        """The time of the loop the client's connections live on, looked up once (Python 3.11's
        ``get_running_loop`` makes a ``getpid`` system call: ~0.25 µs, a few times per request)."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop.time()

    def close(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None

    def _pooled(self, endpoint: Endpoint) -> UpstreamConnection | None:
        """The most recently used live connection to ``endpoint`` (others expire first)."""
        idle = self._idle.get(endpoint)
        if not idle:
            return None
        deadline = self.now() - KEEPALIVE
        while idle:
            connection = idle.pop()
            if not connection.closed and connection.idle_since > deadline:
                return connection
            connection.close()
        return None

    async def _connect(self, endpoint: Endpoint) -> UpstreamConnection:
        tls, host, port = endpoint
        seconds = self._connect_timeout()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(seconds) as deadline:
                _transport, connection = await loop.create_connection(
                    UpstreamConnection,
                    host.strip("[]"),
                    port,
                    ssl=self._tls if tls else None,
                    server_hostname=host.strip("[]") if tls else None,
                )
        except TimeoutError:
            if deadline.expired():
                raise ConnectTimeout(f"no connection within {seconds} s") from None
            raise
        except OSError as exc:  # refused, unreachable, unresolvable (socket.gaierror), a refused certificate
            raise NotConnected(f"{type(exc).__name__}: {exc}") from exc
        return connection

    def _close_expired(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() - KEEPALIVE
        for endpoint, idle in list(self._idle.items()):
            kept = [c for c in idle if not c.closed and c.idle_since > deadline]
            for connection in idle:
                if connection not in kept:
                    connection.close()
            if kept:
                self._idle[endpoint] = kept
            else:
                del self._idle[endpoint]
        self._sweep = loop.call_later(KEEPALIVE, self._close_expired) if self._idle else None

    def _free_slot(self) -> None:
        if self._slots is not None:
            self._slots.give()


class Slots:
    """At most ``limit`` taken at once, waiters served in their order: asyncio.Semaphore's rules without
    its per-call pass over the waiters and its coroutine when a slot is free (every proxied request)."""

    __slots__ = ("_free", "_waiters")

    def __init__(self, limit: int):
        self._free = limit
        self._waiters: deque[asyncio.Future] = deque()

    def take(self) -> bool:
        """A slot now, if one is free and nobody waits for one."""
        if self._free and not self._waiters:
            self._free -= 1
            return True
        return False

    async def wait(self) -> None:
        """Until ``give`` hands a slot over.  Cancelled (a deadline): out of the queue, or, if the slot
        was handed over meanwhile, handed on."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.give()
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def give(self) -> None:
        """A slot back: to the first live waiter, else free."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1


async def _before(deadline: float, awaitable):
    """``awaitable``'s result, or AnswerLate once the loop's time passes ``deadline``."""
    try:
        async with asyncio.timeout_at(deadline) as limit:
            return await awaitable
    except TimeoutError:
        if limit.expired():
            raise AnswerLate("no answer before the response deadline", answered=False) from None
        raise
