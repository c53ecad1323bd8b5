"""Streaming and diagnostic routes used by proxy tests and benchmarks."""

from __future__ import annotations

import asyncio
import hashlib
import json

from aiohttp import WSMsgType, web

from devstack.auth import auth_required
from devstack.params import query_number
from devstack.state import STATS_KEY

CHUNK_SIZE = 64 * 1024
# One reusable chunk of the repeating 0..255 pattern; 64 KiB is a multiple of 256,
# so every chunk starts at pattern offset 0 and the body never needs building.
PATTERN_CHUNK = bytes(range(256)) * (CHUNK_SIZE // 256)
MAX_SLOW_DELAY = 3600.0
ECHO_HEARTBEAT = 30.0

routes = web.RouteTableDef()


class EchoCounts:
    """Echo WebSockets opened and ended (totals): what ``python -m devstack`` freezes for the
    collector, as the front door does (service_runtime.long_lived_gc)."""

    opened = 0
    closed = 0

    @classmethod
    def counts(cls) -> tuple[int, int]:
        return cls.opened, cls.closed


@auth_required
async def websocket_echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(heartbeat=ECHO_HEARTBEAT)
    await ws.prepare(request)
    EchoCounts.opened += 1
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                await ws.send_str(message.data)
            elif message.type == WSMsgType.BINARY:
                await ws.send_bytes(message.data)
            elif message.type == WSMsgType.ERROR:
                break
    finally:
        EchoCounts.closed += 1
    return ws


routes.get("/stream/echo")(websocket_echo)
routes.get("/stream/session/{name}/pty")(websocket_echo)


@routes.get("/stream/kernel/_/events")
@auth_required
async def kernel_events(request: web.Request) -> web.StreamResponse:
    count = query_number(request, "n", 5, int, 0)
    interval = query_number(request, "interval", 0.1, float, 0.0)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await response.prepare(request)
    if count == 0:
        while True:  # until the client disconnects (the write then fails)
            await response.write(b": keepalive\n\n")
            await asyncio.sleep(interval)
    for seq in range(count):
        if seq:
            await asyncio.sleep(interval)
        event = f"event: kernel_status\ndata: {json.dumps({'seq': seq})}\n\n"
        await response.write(event.encode())
    await response.write_eof()
    return response


@routes.get("/dev/download")
@auth_required
async def download(request: web.Request) -> web.StreamResponse:
    size = query_number(request, "size", 0, int, 0)
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = size
    await response.prepare(request)
    remaining = size
    while remaining > 0:
        chunk = PATTERN_CHUNK if remaining >= CHUNK_SIZE else PATTERN_CHUNK[:remaining]
        await response.write(chunk)
        remaining -= len(chunk)
    await response.write_eof()
    return response


@auth_required
async def upload(request: web.Request) -> web.Response:
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.content.iter_chunked(CHUNK_SIZE):
        digest.update(chunk)
        size += len(chunk)
    return web.json_response({"size": size, "sha256": digest.hexdigest()})


routes.post("/dev/upload")(upload)
routes.put("/dev/upload")(upload)


@routes.get("/dev/slow")
@auth_required
async def slow(request: web.Request) -> web.Response:
    delay = min(query_number(request, "delay", 1.0, float, 0.0), MAX_SLOW_DELAY)
    await asyncio.sleep(delay)
    return web.json_response({"slept": delay})


@auth_required
async def echo_headers(request: web.Request) -> web.Response:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        # Repeated headers are folded the HTTP way so nothing forwarded is hidden.
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return web.json_response(
        {
            "headers": headers,
            "method": request.method,
            "raw_path": request.raw_path,
            "cookies": dict(request.cookies),
        }
    )


routes.get("/dev/echo-headers")(echo_headers)
routes.get("/dev/echo-headers/{tail:.*}")(echo_headers)  # any path below: what arrived, once verified


@routes.get("/dev/stats")
async def stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS_KEY].as_json())
