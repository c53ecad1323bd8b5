"""The bytes of a proxied exchange, both ways, through the whole front door (``build_app`` in process, a
real redis-server and etcd) against a real TCP server that writes crafted answers: what reaches the
Manager for ``GET /func/`` (the public version, not signed: the lean client's path) and every byte the
browser gets back: status line, headers in their order (the upstream's kept ones, our sandbox policy,
CORS, security headers, the request id), body.  Written against the code before the answer's path was
cut down (docs/performance.md, "Sixth slice: the answer's path"): the cuts must not move a byte."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from pathlib import Path

import pytest
from aiohttp import web

from contract.config import parse_config
from frontdoor.app import build_app
from frontdoor.ops import LIFECYCLE, Lifecycle
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import ensure_secrets
from service_runtime.settings import Settings
from tests.support.crafted_http import CraftedServer
from tests.support.front_door_config import NO_PROBES
from tests.support.ports import free_port
from tests.support.servers import start_etcd, start_redis

ALLOWED_ORIGIN = "https://console.example.com"
DATE = b"Date: Mon, 30 Nov 2026 01:00:00 GMT\r\n"
BODY = b'{"version": "v7.20230615"}'


def _answer(headers: bytes, body: bytes = BODY, status: bytes = b"200 OK") -> bytes:
    return b"HTTP/1.1 %s\r\n%sContent-Length: %d\r\n\r\n%s" % (status, headers, len(body), body)


@pytest.fixture
async def front_door(request):
    """A front door whose Manager is a ``CraftedServer``; the test gives it its answers (and, as the
    parameter, whether the worker is draining)."""
    draining = getattr(request, "param", False)
    directory = Path(tempfile.mkdtemp(prefix="fdb-", dir="/tmp"))  # ipc paths must stay short
    secrets_dir = directory / "secrets"
    ensure_secrets(secrets_dir)
    redis_handle = start_redis(directory, secrets_dir)
    etcd = start_etcd(directory)
    runner = None
    try:
        async with CraftedServer([]) as manager:
            config = parse_config(
                {
                    "api": {"endpoint": [manager.url], **NO_PROBES},
                    "session": {"redis": {"addr": redis_handle.addr}},
                    "etcd": {"addr": f"127.0.0.1:{etcd.port}"},
                    "runtime": {"state_dir": str(directory / "state"), "secrets_dir": str(secrets_dir)},
                    "zmq": {"ipc_dir": str(directory / "ipc")},
                    "security": {"cors_allowed_origins": [ALLOWED_ORIGIN]},
                }
            )
            app = build_app(Settings(config, [manager.url]), Instruments())
            app[LIFECYCLE] = Lifecycle(0, draining=draining)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            yield port, manager
    finally:
        if runner is not None:
            await runner.cleanup()
        redis_handle.stop()
        etcd.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def _exchange(port: int, request: bytes) -> bytes:
    """``request`` written on a fresh connection; the whole answer (``Content-Length`` bytes of body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        match = re.search(rb"\r\nContent-Length: (\d+)\r\n", head)
        body = b""
        if match and not request.startswith(b"HEAD"):
            body = await asyncio.wait_for(reader.readexactly(int(match.group(1))), 10)
        return head + body
    finally:
        writer.close()


def _request(port: int, extra: bytes = b"", method: bytes = b"GET") -> bytes:
    return (
        method + b" /func/ HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Request-ID: req-1\r\nAccept: application/json\r\n"
        b"Cookie: theme=dark\r\n%s\r\n" % (port, extra)
    )


# The browser's side: the sandbox policy and nosniff of every proxied answer come right after the
# upstream's kept headers, then the request id; CORS and the security headers after those.
OURS = (
    b"Content-Security-Policy: sandbox; default-src 'none'; frame-ancestors 'none'\r\n"
    b"X-Content-Type-Options: nosniff\r\n"
)
SECURITY = b"X-Frame-Options: DENY\r\nReferrer-Policy: same-origin\r\n"

CASES = {
    "a small JSON answer": (
        b"",
        _answer(b"Content-Type: application/json; charset=utf-8\r\n" + DATE + b"Server: Manager/1\r\n"),
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
        + DATE
        + b"Content-Length: 26\r\n"
        + OURS
        + b"X-Request-ID: req-1\r\nVary: Origin\r\n"
        + SECURITY
        + b"\r\n"
        + BODY,
    ),
    "from an allowed origin, the upstream's CORS, Vary, hop-by-hop and origin-wide headers": (
        b"Origin: " + ALLOWED_ORIGIN.encode() + b"\r\n",
        _answer(
            b"Content-Type: application/json\r\n" + DATE + b"Access-Control-Allow-Origin: *\r\n"
            b"Vary: Accept-Encoding\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
            b'Clear-Site-Data: "cookies"\r\nContent-Security-Policy: default-src *\r\n'
            b"X-Content-Type-Options: sniff\r\nX-Frame-Options: ALLOWALL\r\nX-Request-ID: upstream-id\r\n"
        ),
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + DATE + b"Vary: Accept-Encoding, Origin\r\n"
        b"X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nX-Request-ID: req-1\r\n"
        b"Content-Length: 26\r\n"
        b"Content-Security-Policy: sandbox; default-src 'none'; frame-ancestors 'none'\r\n"
        b"Access-Control-Allow-Origin: " + ALLOWED_ORIGIN.encode() + b"\r\n"
        b"Access-Control-Allow-Credentials: true\r\n"
        b"Access-Control-Expose-Headers: X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Window, "
        b"Retry-After, X-Request-ID, Content-Disposition\r\n"
        b"Referrer-Policy: same-origin\r\n\r\n" + BODY,
    ),
    "the upstream's cookies contained, ours refused": (
        b"Origin: https://elsewhere.example\r\n",
        _answer(
            b"Content-Type: application/json\r\n" + DATE + b"Set-Cookie: AIOHTTP_SESSION=stolen; Path=/\r\n"
            b"Set-Cookie: lang=ko; Domain=example.com; Path=/\r\n"
        ),
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + DATE + b"Set-Cookie: lang=ko; Path=/func\r\n"
        b"Content-Length: 26\r\n" + OURS + b"X-Request-ID: req-1\r\nVary: Origin\r\n" + SECURITY + b"\r\n" + BODY,
    ),
    "no Content-Type from the upstream": (
        b"",
        _answer(DATE),
        b"HTTP/1.1 200 OK\r\n" + DATE + b"Content-Length: 26\r\n" + OURS + b"X-Request-ID: req-1\r\n"
        b"Content-Type: application/octet-stream\r\nVary: Origin\r\n" + SECURITY + b"\r\n" + BODY,
    ),
    # Without a length the answer is relayed as a stream: its head goes out from the handler, before the
    # request chain marks the answer; the prepare hook names the request id then, as in a whole answer.
    "an empty 204, streamed": (
        b"",
        b"HTTP/1.1 204 No Content\r\n" + DATE + b"\r\n",
        b"HTTP/1.1 204 No Content\r\n" + DATE + OURS + b"X-Request-ID: req-1\r\nVary: Origin\r\n" + SECURITY + b"\r\n",
    ),
    "a chunked answer, streamed, with the upstream's own request id": (
        b"",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + DATE + b"X-Request-ID: upstream-id\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + DATE
        + b"X-Request-ID: req-1\r\n"
        + OURS
        + b"Transfer-Encoding: chunked\r\nVary: Origin\r\n"
        + SECURITY
        + b"\r\n",
    ),
    "a 404 problem of the upstream's": (
        b"",
        _answer(b"Content-Type: application/problem+json\r\n" + DATE, b'{"title": "no"}', b"404 Not Found"),
        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/problem+json\r\n"
        + DATE
        + b"Content-Length: 15\r\n"
        + OURS
        + b"X-Request-ID: req-1\r\nVary: Origin\r\n"
        + SECURITY
        + b"\r\n"
        + b'{"title": "no"}',
    ),
    "a browser that closes the connection": (
        b"Connection: close\r\n",
        _answer(b"Content-Type: application/json\r\n" + DATE),
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + DATE
        + b"Content-Length: 26\r\n"
        + OURS
        + b"X-Request-ID: req-1\r\nConnection: close\r\nVary: Origin\r\n"
        + SECURITY
        + b"\r\n"
        + BODY,
    ),
}


@pytest.mark.parametrize("case", CASES.keys())
async def test_the_browser_gets_these_bytes(front_door, case):
    port, manager = front_door
    extra, upstream_answer, expected = CASES[case]
    manager.answers.append(upstream_answer)
    assert await _exchange(port, _request(port, extra)) == expected


@pytest.mark.parametrize("front_door", [True], indirect=True)
async def test_a_draining_worker_closes_the_connection_after_the_answer(front_door):
    port, manager = front_door
    manager.answers.append(_answer(b"Content-Type: application/json\r\n" + DATE))
    assert await _exchange(port, _request(port)) == (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + DATE
        + b"Content-Length: 26\r\n"
        + OURS
        + b"X-Request-ID: req-1\r\nConnection: close\r\nVary: Origin\r\n"
        + SECURITY
        + b"\r\n"
        + BODY
    )


async def test_the_manager_gets_these_bytes(front_door):
    port, manager = front_door
    manager.answers.append(_answer(b"Content-Type: application/json\r\n" + DATE))
    await _exchange(port, _request(port, b'Accept-Language: ko\r\nIf-None-Match: "x"\r\nX-Forwarded-For: 10.0.0.9\r\n'))
    assert manager.requests[-1] == (
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: application/json\r\nAccept-Language: ko\r\n"
        b'If-None-Match: "x"\r\nCookie: theme=dark\r\nUser-Agent: webui-host/0.1 (Backend.AI Web Server compatible)\r\n'
        b"X-BackendAI-Version: v7.20230615\r\nX-BackendAI-Domain: default\r\nX-Forwarded-For: 127.0.0.1\r\n"
        b"X-Forwarded-Host: 127.0.0.1:%d\r\nX-Forwarded-Proto: http\r\nX-Request-ID: req-1\r\n\r\n"
        % (manager.port, port)
    )
