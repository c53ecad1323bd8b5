"""Bodies stream both ways without buffering; SSE arrives as it is sent; WebSockets relay frames."""

from __future__ import annotations

import hashlib
import os
import time

import aiohttp
import psutil
import pytest
from yarl import URL

pytestmark = pytest.mark.slow
MiB = 1 << 20


def pattern_digest(size: int) -> str:
    block = bytes(range(256)) * 256  # 64 KiB of the devstack's repeating pattern
    digest = hashlib.sha256()
    whole, rest = divmod(size, len(block))
    for _ in range(whole):
        digest.update(block)
    digest.update(block[:rest])
    return digest.hexdigest()


def frontdoor_rss(stack) -> int:
    return sum(psutil.Process(pid).memory_info().rss for pid in stack.pids("frontdoor"))


async def test_200_mib_download_streams_with_flat_memory(admin, stack):
    size = 200 * MiB
    baseline = frontdoor_rss(stack)
    peak = baseline
    digest = hashlib.sha256()
    received = 0
    async with admin.get(f"/func/dev/download?size={size}") as response:
        assert response.status == 200
        assert int(response.headers["Content-Length"]) == size
        async for chunk in response.content.iter_chunked(1 << 20):
            digest.update(chunk)
            received += len(chunk)
            if received % (16 * MiB) < len(chunk):
                peak = max(peak, frontdoor_rss(stack))
    assert received == size
    assert digest.hexdigest() == pattern_digest(size)
    assert peak - baseline < 40 * MiB, f"front door grew by {(peak - baseline) / MiB:.1f} MiB"


async def test_upload_streams_to_the_manager(admin, stack):
    size = 32 * MiB
    payload_digest = hashlib.sha256()

    async def body():
        block = os.urandom(MiB)
        for _ in range(size // MiB):
            payload_digest.update(block)
            yield block

    async with admin.post(
        "/func/dev/upload", data=body(), headers={"Content-Type": "application/octet-stream"}
    ) as response:
        assert response.status == 200, await response.text()
        result = await response.json()
    assert result == {"size": size, "sha256": payload_digest.hexdigest()}


async def test_server_sent_events_arrive_as_they_are_sent(admin):
    arrivals = []
    started = time.monotonic()
    async with admin.get("/func/stream/kernel/_/events?n=4&interval=0.4") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        async for line in response.content:
            if line.startswith(b"data:"):
                arrivals.append(time.monotonic() - started)
    assert len(arrivals) == 4
    assert arrivals[0] < 0.4 + 0.3, arrivals  # the first event did not wait for the stream's end
    assert arrivals[-1] - arrivals[0] > 0.8, arrivals


@pytest.mark.parametrize("path", ["/func/stream/echo", "/func/stream/session/mysession/pty"])
async def test_websocket_echo(admin, path):
    async with admin.ws_connect(path) as ws:
        await ws.send_str("hello")
        assert (await ws.receive(timeout=5)).data == "hello"
        await ws.send_bytes(b"\x00\x01binary")
        assert (await ws.receive(timeout=5)).data == b"\x00\x01binary"


async def test_websocket_needs_a_session(visitor):
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        async with visitor.ws_connect("/func/stream/echo"):
            pass
    assert caught.value.status == 401


async def test_logout_closes_open_websockets(stack):
    from tests.e2e.conftest import log_in

    async with aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await log_in(session)
        async with session.ws_connect("/func/stream/echo") as ws:
            async with session.post("/server/logout") as response:
                assert response.status == 201
            message = await ws.receive(timeout=5)
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_slow_manager_gives_504(admin, stack):
    delay = stack.config.api.response_timeout + 2
    started = time.monotonic()
    async with admin.get(f"/func/dev/slow?delay={delay}") as response:
        assert response.status == 504
        assert response.content_type == "application/problem+json"
    assert time.monotonic() - started < delay


@pytest.mark.parametrize("raw_path", ["/func/a/%2e%2e/auth?echo=x", "/func/a/../auth", "/func/a/%2E%2E%2Fauth"])
async def test_dot_segments_are_refused(admin, stack, raw_path):
    async with admin.get(URL(stack.base_url + raw_path, encoded=True)) as response:
        assert response.status == 400
        assert response.content_type == "application/problem+json"
