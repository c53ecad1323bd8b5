"""The head of every kind of answer the front door writes that is not a relayed one, through the whole
front door (``build_app`` in process, a real redis-server and etcd): aiohttp's own 405 and 413, a raised
``HTTPException`` turned into a page, static files, a preflight, a WebSocket handshake and a request the
request chain refuses, API problems, and the parser's own 400.  Each head, headers in their order, was
taken from main before the security hook stopped going through ``on_response_prepare`` (the ninth
session, docs/performance.md); only the values of ``Date``, a file's ``Etag`` and ``Last-Modified``
and a page's CSP nonce are masked."""

from __future__ import annotations

import asyncio
import re

from tests.frontdoor.component.test_answer_bytes import ALLOWED_ORIGIN, front_door  # noqa: F401 (a fixture)

WS = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

# kind: (the request's line, its headers after Host and X-Request-ID, its body)
KINDS = {
    "aiohttp's 405": ("DELETE /server/login-check", "", b""),
    "aiohttp's 413": ("POST /server/login", "Content-Type: application/json\r\n", b"x" * ((1 << 20) + 1)),
    "a raised HTTPException, as a page": (
        "POST /ui/login",
        "Origin: https://evil.example\r\nAccept: text/html\r\n",
        b"",
    ),
    "a redirect to the UI": ("GET /", "", b""),
    "a static file": ("GET /ui/app.css", "", b""),
    "a static page": ("GET /index.html", "Accept: text/html\r\n", b""),
    "a static 404": ("GET /no-such-file.js", "", b""),
    "a preflight": (
        "OPTIONS /func/x",
        f"Origin: {ALLOWED_ORIGIN}\r\nAccess-Control-Request-Method: POST\r\n",
        b"",
    ),
    "a refused preflight": (
        "OPTIONS /func/x",
        "Origin: https://evil.example\r\nAccess-Control-Request-Method: POST\r\n",
        b"",
    ),
    "a WebSocket handshake without a session": ("GET /func/stream/kernel/x/pty", WS, b""),
    "a proxied request without a session, from an allowed origin": (
        "GET /func/session/x",
        f"Origin: {ALLOWED_ORIGIN}\r\n",
        b"",
    ),
    "a cross-origin POST refused on the API": ("POST /server/logout", "Origin: https://evil.example\r\n", b""),
    "a target the request chain refuses": ("GET http://elsewhere.example/func/", "", b""),
}


async def _head(port: int, raw: bytes) -> str:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    finally:
        writer.close()
    head = re.sub(rb"\r\n(Date|Etag|Last-Modified): [^\r]*", rb"\r\n\1: *", head)  # (a file's: its checkout's)
    return re.sub(rb"'nonce-[A-Za-z0-9_-]+'", b"'nonce-*'", head).decode("latin-1")


async def heads_of_every_kind(port: int) -> dict[str, str]:
    heads = {}
    for kind, (line, headers, body) in KINDS.items():
        length = f"Content-Length: {len(body)}\r\n" if body else ""
        raw = f"{line} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Request-ID: req-1\r\n{headers}{length}Connection: close\r\n\r\n"
        heads[kind] = await _head(port, raw.encode() + body)
    heads["the parser's 400"] = await _head(port, b"GARBAGE\r\n\r\n")
    return heads


# Taken from main (d6eb72b) by this test's request of each kind; the head's lines, the status line first.
EXPECTED = {
    "aiohttp's 405": [
        "HTTP/1.1 405 Method Not Allowed",
        "Content-Type: application/problem+json; charset=utf-8",
        "X-Request-ID: req-1",
        "Content-Length: 90",
        "Date: *",
        "Connection: close",
        "Vary: Origin",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ],
    "aiohttp's 413": [
        "HTTP/1.1 413 Request Entity Too Large",
        "Content-Type: application/problem+json; charset=utf-8",
        "X-Request-ID: req-1",
        "Content-Length: 102",
        "Date: *",
        "Connection: close",
        "Vary: Origin",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        "X-RateLimit-Limit: 30",
        "X-RateLimit-Remaining: 29",
        "X-RateLimit-Window: 60",
    ],
    "a raised HTTPException, as a page": [
        "HTTP/1.1 403 Forbidden",
        "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
        "X-Frame-Options: DENY",
        "X-Content-Type-Options: nosniff",
        "Referrer-Policy: same-origin",
        "Cache-Control: no-store",
        "Content-Type: text/html; charset=utf-8",
        "X-Request-ID: req-1",
        "Content-Length: 2226",
        "Date: *",
        "Connection: close",
    ],
    "a redirect to the UI": [
        "HTTP/1.1 302 Found",
        "Content-Type: text/plain; charset=utf-8",
        "Location: /ui/",
        "Content-Length: 10",
        "Date: *",
        "Connection: close",
        "X-Request-ID: req-1",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ],
    "a static file": [
        "HTTP/1.1 200 OK",
        "Content-Type: text/css",
        "Cache-Control: public, max-age=86400, must-revalidate, proxy-revalidate",
        "X-Content-Type-Options: nosniff",
        "X-Request-ID: req-1",
        "Etag: *",
        "Last-Modified: *",
        "Content-Length: 7021",
        "Accept-Ranges: bytes",
        "Date: *",
        "Connection: close",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ],
    "a static page": [
        "HTTP/1.1 200 OK",
        "Content-Type: text/html",
        "Cache-Control: no-store",
        "X-Content-Type-Options: nosniff",
        "X-Request-ID: req-1",
        "Etag: *",
        "Last-Modified: *",
        "Content-Length: 472",
        "Accept-Ranges: bytes",
        "Date: *",
        "Connection: close",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: default-src 'self'; script-src 'self' 'nonce-*'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
    ],
    "a static 404": [
        "HTTP/1.1 404 Not Found",
        "Cache-Control: no-store",
        "Content-Type: text/plain; charset=utf-8",
        "X-Request-ID: req-1",
        "Content-Length: 15",
        "Date: *",
        "Connection: close",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ],
    "a preflight": [
        "HTTP/1.1 204 No Content",
        "Access-Control-Allow-Origin: https://console.example.com",
        "Access-Control-Allow-Credentials: true",
        "Access-Control-Allow-Methods: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
        "Access-Control-Allow-Headers: Accept, Accept-Language, Content-Type, Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since, If-Range, X-BackendAI-Version, X-BackendAI-Encoded, X-Request-ID, X-Requested-With",
        "Access-Control-Max-Age: 600",
        "Vary: Origin",
        "X-Request-ID: req-1",
        "Date: *",
        "Connection: close",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: sandbox; default-src 'none'; frame-ancestors 'none'",
    ],
    "a refused preflight": [
        "HTTP/1.1 403 Forbidden",
        "Content-Type: application/problem+json; charset=utf-8",
        "X-Request-ID: req-1",
        "Content-Length: 106",
        "Date: *",
        "Connection: close",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: sandbox; default-src 'none'; frame-ancestors 'none'",
    ],
    "a WebSocket handshake without a session": [
        "HTTP/1.1 401 Unauthorized",
        "Content-Type: application/problem+json; charset=utf-8",
        "X-Request-ID: req-1",
        "Content-Length: 84",
        "Date: *",
        "Connection: close",
        "Vary: Origin",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: sandbox; default-src 'none'; frame-ancestors 'none'",
    ],
    "a proxied request without a session, from an allowed origin": [
        "HTTP/1.1 401 Unauthorized",
        "Content-Type: application/problem+json; charset=utf-8",
        "X-Request-ID: req-1",
        "Content-Length: 84",
        "Date: *",
        "Connection: close",
        "Vary: Origin",
        "Access-Control-Allow-Origin: https://console.example.com",
        "Access-Control-Allow-Credentials: true",
        "Access-Control-Expose-Headers: X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Window, Retry-After, X-Request-ID, Content-Disposition",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: sandbox; default-src 'none'; frame-ancestors 'none'",
    ],
    "a cross-origin POST refused on the API": [
        "HTTP/1.1 403 Forbidden",
        "Content-Type: application/problem+json; charset=utf-8",
        "X-Request-ID: req-1",
        "Content-Length: 198",
        "Date: *",
        "Connection: close",
        "Vary: Origin",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ],
    "a target the request chain refuses": [
        "HTTP/1.1 400 Bad Request",
        "Content-Type: application/problem+json; charset=utf-8",
        "X-Request-ID: req-1",
        "Content-Length: 135",
        "Date: *",
        "Connection: close",
        "Vary: Origin",
        "X-Content-Type-Options: nosniff",
        "X-Frame-Options: DENY",
        "Referrer-Policy: same-origin",
        "Content-Security-Policy: sandbox; default-src 'none'; frame-ancestors 'none'",
    ],
    "the parser's 400": [
        "HTTP/1.0 400 Bad Request",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Length: 48",
        "Date: *",
    ],
}


async def test_every_kind_of_answer_keeps_its_head(front_door):  # noqa: F811 (the fixture)
    port, _manager = front_door
    heads = await heads_of_every_kind(port)
    assert {kind: head.split("\r\n")[:-2] for kind, head in heads.items()} == EXPECTED
