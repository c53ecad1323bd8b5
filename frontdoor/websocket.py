"""WebSocket proxying: a signed handshake upstream, then frames relayed both ways.

Each direction is one loop that awaits the send before reading the next frame, so a slow reader
slows its writer instead of filling an unbounded queue.  Sockets are tracked per session so a
logout or revocation closes them at once.  One client cannot take a worker's memory or sockets:
messages are bounded either way (a larger one closes both sides with 1009), and so are the open
sockets per session and per worker, checked before anything is opened upstream.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, defaultdict

import aiohttp
from aiohttp import WSMsgType, web

from contract.config_sections import SecurityConfig
from contract.redis_layout import session_hash
from frontdoor import problems
from frontdoor.upstream import UpstreamTarget
from service_runtime.instruments import Instruments

log = logging.getLogger(__name__)
HEARTBEAT = 30.0
# aiohttp rounds a timer longer than a connection's ``timeout_ceil_threshold`` (5 s by default) up to
# the whole second: every socket opened within one second then pings, and handles the pongs, in one
# loop iteration.  With 10,000 sockets that stalled each worker 60-140 ms at every whole second
# (docs/performance.md).  Timers up to the heartbeat keep their own times: the pings spread out.
EXACT_TIMERS_UP_TO = HEARTBEAT
SESSION_ENDED = 4401  # private-use close code: the web session ended
MESSAGE_TOO_BIG = 1009


def wants_websocket(request: web.Request) -> bool:
    if request.method != "GET":
        return False
    headers = request.headers
    upgrade = headers.get("Upgrade")  # (absent on nearly every request: nothing lower-cased then)
    return upgrade is not None and upgrade.lower() == "websocket" and "upgrade" in headers.get("Connection", "").lower()


class WebSocketRelay:
    def __init__(self, http: aiohttp.ClientSession, limits: SecurityConfig, *, instruments: Instruments):
        self._http = http
        self._upstream_errors = instruments.upstream_errors
        self._limits = limits  # read at each use: a reload applies to new sockets
        self._open: dict[str, set[web.WebSocketResponse]] = defaultdict(set)
        self._opening: Counter[str] = Counter()  # handshakes under way, per session digest
        self.opened_total = 0  # relays started and ended since the worker started (the collector's input)
        self.closed_total = 0

    async def close_client(self) -> None:
        await self._http.close()

    @property
    def open_count(self) -> int:
        return self.opened_total - self.closed_total

    def counts(self) -> tuple[int, int]:
        return self.opened_total, self.closed_total

    async def close_all(self, code: int, message: bytes) -> None:
        """Close every relayed socket (the end of a drain): each relay then ends on its own."""
        sockets = [socket for group in self._open.values() for socket in group]
        await asyncio.gather(*(socket.close(code=code, message=message) for socket in sockets), return_exceptions=True)

    def close_session(self, digest: str) -> None:
        """The session ended: close every socket it opened."""
        for socket in list(self._open.pop(digest, ())):
            asyncio.ensure_future(socket.close(code=SESSION_ENDED, message=b"session ended"))

    def _over_limit(self, digest: str) -> web.Response | None:
        """Handshakes still in progress count too: a burst of them cannot slip past the bounds."""
        limits = self._limits
        if len(self._open.get(digest, ())) + self._opening[digest] >= limits.websocket_max_per_session:
            return problems.problem(
                429,
                "too-many-requests",
                "Too many open WebSockets for this session.",
                details=f"At most {limits.websocket_max_per_session}; close one first.",
            )
        if self.open_count + self._opening.total() >= limits.websocket_max_per_worker:
            return problems.problem(
                503, "service-unavailable", "This server relays too many WebSockets.", details="Try again later."
            )
        return None

    async def open(self, request: web.Request, target: UpstreamTarget, headers, session_id: str) -> web.StreamResponse:
        digest = session_hash(session_id)
        refusal = self._over_limit(digest)
        if refusal is not None:
            log.warning("websocket refused", extra={"event": "websocket_refused", "status": refusal.status})
            return refusal
        self._opening[digest] += 1
        try:
            opened = await self._handshake(request, target, headers)
        finally:
            self._opening[digest] -= 1
            if self._opening[digest] <= 0:
                del self._opening[digest]
        if isinstance(opened, web.Response):
            return opened
        upstream, downstream = opened
        self._open[digest].add(downstream)
        self.opened_total += 1
        try:
            await _relay(downstream, upstream)
        finally:
            self.closed_total += 1
            sockets = self._open.get(digest)
            if sockets is not None:
                sockets.discard(downstream)
                if not sockets:
                    self._open.pop(digest, None)
        return downstream

    async def _handshake(self, request: web.Request, target: UpstreamTarget, headers):
        """Upstream first, then the browser's upgrade: (upstream, downstream), or the error answer."""
        max_size = self._limits.websocket_max_message_size + 1  # aiohttp refuses a message of exactly its bound
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        # The signed URL itself with a WebSocket scheme: path and query stay byte for byte.
        url = target.url.with_scheme("wss" if target.url.scheme == "https" else "ws")
        for name in ("Content-Type", "Content-Length"):
            headers.popall(name, None)
        try:
            upstream = await self._http.ws_connect(
                url, headers=headers, protocols=protocols, heartbeat=HEARTBEAT, max_msg_size=max_size
            )
        except (aiohttp.WSServerHandshakeError, aiohttp.ClientError, TimeoutError) as exc:
            self._upstream_errors.labels("websocket_handshake").inc()
            log.warning(
                "websocket handshake upstream failed", extra={"event": "upstream_error", "error": type(exc).__name__}
            )
            return problems.bad_gateway()
        downstream = web.WebSocketResponse(
            protocols=[upstream.protocol] if upstream.protocol else (), heartbeat=HEARTBEAT, max_msg_size=max_size
        )
        if not downstream.can_prepare(request).ok:
            await upstream.close()
            return problems.bad_request("Not a valid WebSocket upgrade request.")
        try:
            await downstream.prepare(request)
        except BaseException:
            await upstream.close()
            raise
        return upstream, downstream


async def _relay(downstream: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    pumps = [
        asyncio.create_task(_pump(downstream, upstream)),
        asyncio.create_task(_pump(upstream, downstream)),
    ]
    code = aiohttp.WSCloseCode.OK
    try:
        done, _pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        if any(not pump.cancelled() and pump.exception() is None and pump.result() == MESSAGE_TOO_BIG for pump in done):
            code = MESSAGE_TOO_BIG
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        # The side that refused a message closed itself with 1009; the other side learns the same.
        message = b"message too big" if code == MESSAGE_TOO_BIG else b""
        try:
            await upstream.close(code=code, message=message)
        finally:  # even when cancelled during the closing handshake: the browser's side ends too
            await downstream.close(code=code, message=message)


async def _pump(source, sink) -> int:
    """Relay until the source ends; the close code the other side should get."""
    async for message in source:
        if message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        else:  # close, error: the relay ends
            too_big = message.type == WSMsgType.ERROR and getattr(message.data, "code", None) == MESSAGE_TOO_BIG
            return MESSAGE_TOO_BIG if too_big else aiohttp.WSCloseCode.OK
    return aiohttp.WSCloseCode.OK
