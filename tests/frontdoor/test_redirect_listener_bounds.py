"""The plain-HTTP redirect listener closes silent and half-sent connections like the main listener."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from contract.config import parse_config
from frontdoor.https_redirect import redirect_listener
from tests.support.ports import free_port
from tests.support.tls import write_loopback_certificate

HEADER_READ_TIMEOUT, KEEPALIVE_TIMEOUT = 0.5, 1.0


@pytest.fixture
async def redirect_port(tmp_path):
    port = free_port()
    cert, key = write_loopback_certificate(tmp_path)
    config = parse_config(
        {
            "service": {
                "ip": "127.0.0.1",
                "port": free_port(),
                "ssl_enabled": True,
                "ssl_cert": str(cert),
                "ssl_privkey": str(key),
            },
            "security": {
                "http_redirect_port": port,
                "header_read_timeout": HEADER_READ_TIMEOUT,
                "keepalive_timeout": KEEPALIVE_TIMEOUT,
            },
        }
    )
    context = redirect_listener(config)(web.Application())
    await anext(context)
    yield port
    with pytest.raises(StopAsyncIteration):
        await anext(context)


async def _seconds_until_closed(port: int, first: bytes, limit: float) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    started = loop.time()
    writer.write(first)
    try:
        async with asyncio.timeout(limit):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return float("inf")
    finally:
        writer.close()
    return loop.time() - started


@pytest.mark.parametrize("first", [b"", b"GET / HTTP/1.1\r\nHost: x\r\n"], ids=["silent", "half-a-head"])
async def test_a_connection_without_a_request_head_is_closed(redirect_port, first):
    took = await _seconds_until_closed(redirect_port, first, HEADER_READ_TIMEOUT + 3)
    assert took <= HEADER_READ_TIMEOUT + 1.0


async def test_an_answered_connection_is_closed_when_idle(redirect_port):
    took = await _seconds_until_closed(
        redirect_port, b"GET / HTTP/1.1\r\nHost: webui.example.com\r\n\r\n", KEEPALIVE_TIMEOUT + 3
    )
    assert took <= KEEPALIVE_TIMEOUT + 1.0
