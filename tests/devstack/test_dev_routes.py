"""The streaming and diagnostic routes (devstack.dev_routes) proxy tests and benchmarks use."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.devstack.manager_client import ADMIN, PASSWORD_AGE, USER, host_of, make_jwt, minutes_ago, sign, signed

pytestmark = pytest.mark.asyncio
APP_OPTIONS = PASSWORD_AGE


@pytest.mark.parametrize("path", ["/stream/echo", "/stream/session/sess-1/pty"])
async def test_websocket_echo(client: TestClient, path: str) -> None:
    async with client.ws_connect(path, headers=sign(USER, "GET", path, host_of(client))) as ws:
        await ws.send_str("hello")
        assert (await ws.receive(timeout=5)).data == "hello"
        await ws.send_bytes(b"\x00\x01\xff")
        message = await ws.receive(timeout=5)
        assert (message.type, message.data) == (aiohttp.WSMsgType.BINARY, b"\x00\x01\xff")


async def test_websocket_handshake_must_be_signed(client: TestClient) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/stream/echo")
    assert info.value.status == 401


async def test_sse_sends_exactly_n_events(client: TestClient) -> None:
    response = await signed(client, "GET", "/stream/kernel/_/events?n=3&interval=0.01")
    assert response.content_type == "text/event-stream"
    text = (await response.read()).decode()
    events = [block for block in text.split("\n\n") if block]
    assert events == [f'event: kernel_status\ndata: {{"seq": {i}}}' for i in range(3)]


async def test_sse_forever_sends_keepalives(client: TestClient) -> None:
    response = await signed(client, "GET", "/stream/kernel/_/events?n=0&interval=0.01")
    assert response.status == 200, await response.text()
    received = b""
    while received.count(b": keepalive\n\n") < 3:
        chunk = await asyncio.wait_for(response.content.readany(), timeout=5)
        assert chunk, "stream ended although n=0 means forever"
        received += chunk
    response.close()


@pytest.mark.parametrize("size", [0, 1, 65536, 65537, 1_000_003])
async def test_download_size_is_exact(client: TestClient, size: int) -> None:
    response = await signed(client, "GET", f"/dev/download?size={size}")
    body = await response.read()
    assert response.headers["Content-Length"] == str(size)
    assert len(body) == size
    assert body == (bytes(range(256)) * (size // 256 + 1))[:size]


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_upload_reports_size_and_sha256(client: TestClient, method: str) -> None:
    payload = os.urandom(300_000)
    response = await signed(client, method, "/dev/upload", data=payload, content_type="application/octet-stream")
    assert await response.json() == {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


async def test_upload_streams_chunked_bodies(client: TestClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            yield bytes([i]) * 70_000

    headers = sign(ADMIN, "PUT", "/dev/upload", host_of(client))
    response = await client.put("/dev/upload", data=chunks(), headers=headers)
    expected = b"".join(bytes([i]) * 70_000 for i in range(5))
    assert await response.json() == {"size": len(expected), "sha256": hashlib.sha256(expected).hexdigest()}


async def test_slow(client: TestClient) -> None:
    started = time.perf_counter()
    response = await signed(client, "GET", "/dev/slow?delay=0.05")
    assert await response.json() == {"slept": 0.05}
    assert time.perf_counter() - started >= 0.05


async def test_echo_headers_shows_what_arrived(client: TestClient) -> None:
    extra = {"X-Forwarded-For": "10.0.0.1", "Cookie": "AIOHTTP_SESSION=abc; sToken=t"}
    response = await signed(client, "GET", "/dev/echo-headers?a=1", extra=extra)
    body = await response.json()
    assert body["method"] == "GET" and body["raw_path"] == "/dev/echo-headers?a=1"
    assert body["cookies"] == {"AIOHTTP_SESSION": "abc", "sToken": "t"}
    assert body["headers"]["X-Forwarded-For"] == "10.0.0.1"


async def test_stats_count_auth_methods(client: TestClient) -> None:
    await signed(client, "GET", "/auth?echo=1")
    await signed(client, "GET", "/auth?echo=1", extra={"Date": minutes_ago(30)})  # fails: not counted
    await client.get("/admin/gql?query=x", headers={"X-BackendAI-Token": make_jwt(ADMIN)})
    assert await (await client.get("/dev/stats")).json() == {
        "authenticated_requests": 2,
        "by_method": {"hmac": 1, "jwt": 1},
    }
