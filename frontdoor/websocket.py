"""WebSocket proxying: a signed handshake upstream, then frames relayed both ways.

Each direction is one loop that awaits the send before reading the next frame, so a slow reader
slows its writer instead of filling an unbounded queue.  Sockets are tracked per session so a
logout or revocation closes them at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import aiohttp
from aiohttp import WSMsgType, web

from contract import instruments
from contract.redis_layout import session_hash
from frontdoor import problems
from frontdoor.upstream import UpstreamTarget

log = logging.getLogger(__name__)
HEARTBEAT = 30.0
SESSION_ENDED = 4401  # private-use close code: the web session ended


def wants_websocket(request: web.Request) -> bool:
    return (
        request.method == "GET"
        and request.headers.get("Upgrade", "").lower() == "websocket"
        and "upgrade" in request.headers.get("Connection", "").lower()
    )


class WebSocketRelay:
    def __init__(self, http: aiohttp.ClientSession):
        self._http = http
        self._open: dict[str, set[web.WebSocketResponse]] = defaultdict(set)

    @property
    def open_count(self) -> int:
        return sum(len(sockets) for sockets in self._open.values())

    async def close_all(self, code: int, message: bytes) -> None:
        """Close every relayed socket (the end of a drain): each relay then ends on its own."""
        sockets = [socket for group in self._open.values() for socket in group]
        await asyncio.gather(*(socket.close(code=code, message=message) for socket in sockets), return_exceptions=True)

    def close_session(self, digest: str) -> None:
        """The session ended: close every socket it opened."""
        for socket in list(self._open.pop(digest, ())):
            asyncio.ensure_future(socket.close(code=SESSION_ENDED, message=b"session ended"))

    async def open(self, request: web.Request, target: UpstreamTarget, headers, session_id: str) -> web.StreamResponse:
        protocols = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        # The signed URL itself with a WebSocket scheme: path and query stay byte for byte.
        url = target.url.with_scheme("wss" if target.url.scheme == "https" else "ws")
        for name in ("Content-Type", "Content-Length"):
            headers.popall(name, None)
        try:
            upstream = await self._http.ws_connect(
                url, headers=headers, protocols=protocols, heartbeat=HEARTBEAT, max_msg_size=0
            )
        except (aiohttp.WSServerHandshakeError, aiohttp.ClientError, TimeoutError) as exc:
            instruments.UPSTREAM_ERRORS.labels("websocket_handshake").inc()
            log.warning("websocket handshake upstream failed", extra={"event": "upstream_error", "error": type(exc).__name__})
            return problems.bad_gateway()
        downstream = web.WebSocketResponse(
            protocols=[upstream.protocol] if upstream.protocol else (), heartbeat=HEARTBEAT, max_msg_size=0
        )
        if not downstream.can_prepare(request).ok:
            await upstream.close()
            return problems.bad_request("Not a valid WebSocket upgrade request.")
        await downstream.prepare(request)
        digest = session_hash(session_id)
        self._open[digest].add(downstream)
        try:
            await _relay(downstream, upstream)
        finally:
            sockets = self._open.get(digest)
            if sockets is not None:
                sockets.discard(downstream)
                if not sockets:
                    self._open.pop(digest, None)
        return downstream


async def _relay(downstream: web.WebSocketResponse, upstream: aiohttp.ClientWebSocketResponse) -> None:
    pumps = [
        asyncio.create_task(_pump(downstream, upstream)),
        asyncio.create_task(_pump(upstream, downstream)),
    ]
    try:
        await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
        await upstream.close()
        await downstream.close()


async def _pump(source, sink) -> None:
    async for message in source:
        if message.type == WSMsgType.TEXT:
            await sink.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await sink.send_bytes(message.data)
        else:  # close, error: the relay ends
            break
