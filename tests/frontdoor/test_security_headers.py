"""Security headers as plain functions, then aiohttp's parser limits and Server-header removal on a
real listening socket, spoken to byte by byte."""

from __future__ import annotations

import asyncio
import json
import ssl
from types import SimpleNamespace

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from contract.config import parse_config
from contract.config_sections import DEFAULT_CSP
from contract.hosts import HostPolicy
from frontdoor.https_redirect import https_location, redirect_app
from frontdoor.security import Security, parser_limits
from frontdoor.security_headers import (
    NON_PAGE_POLICY,
    hsts_header,
    is_html,
    new_nonce,
    page_headers,
    proxied_answer_headers,
    without_server_header,
)
from frontdoor.trusted_proxies import TrustedProxies
from tests.support.ports import free_port


def test_pages_get_the_configured_policy_with_a_fresh_nonce():
    nonce = new_nonce()
    headers = page_headers("text/html; charset=utf-8", nonce, DEFAULT_CSP, proxied=False)
    assert f"script-src 'self' 'nonce-{nonce}'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert len({new_nonce() for _ in range(100)}) == 100 and len(nonce) >= 22  # 128 bits, never repeated


@pytest.mark.parametrize("content_type", ["application/json", "application/problem+json", "image/svg+xml", None])
def test_anything_else_of_ours_may_run_nothing(content_type):
    assert page_headers(content_type, "n", DEFAULT_CSP, proxied=False)["Content-Security-Policy"] == NON_PAGE_POLICY


@pytest.mark.parametrize("content_type", ["text/html", "application/json", None])
def test_anything_on_a_proxied_path_is_sandboxed(content_type):
    headers = page_headers(content_type, "n", DEFAULT_CSP, proxied=True)
    assert headers["Content-Security-Policy"] == "sandbox; default-src 'none'; frame-ancestors 'none'"
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "content_type, html",
    [
        ("text/html", True),
        ("TEXT/HTML; charset=utf-8", True),
        ("application/xhtml+xml", True),
        ("text/plain", False),
        ("", False),
        (None, False),
    ],
)
def test_is_html(content_type, html):
    assert is_html(content_type) is html


def test_proxied_answers_get_the_proxied_page_headers_then_hsts():
    for secure, max_age in [(True, 100), (True, 0), (False, 100)]:
        expected = {**page_headers(None, "", DEFAULT_CSP, proxied=True), **hsts_header(secure, max_age)}
        assert dict(proxied_answer_headers(secure, max_age)) == expected


async def test_a_reload_of_hsts_max_age_reaches_the_next_proxied_answer():
    # The proxied answers' headers are built once, not per answer: a reload (in place, as
    # service_runtime.reload applies it) must still change the next answer's.
    config = parse_config({"security": {"hsts_max_age": 100}})
    front = SimpleNamespace(config=config, trusted_proxies=TrustedProxies([]))
    security = Security(front, logins=None, keys=None, password_checks=None)
    tls = ssl.create_default_context()

    async def hsts_of_a_proxied_answer() -> str:
        response = web.json_response({"ok": True})
        security.finish_headers(make_mocked_request("GET", "/func/auth", sslcontext=tls), response)
        assert response.headers["Content-Security-Policy"].startswith("sandbox")
        return response.headers["Strict-Transport-Security"]

    assert await hsts_of_a_proxied_answer() == "max-age=100"
    config.security.hsts_max_age = 200
    assert await hsts_of_a_proxied_answer() == "max-age=200"


def test_hsts_only_over_tls():
    assert hsts_header(True, 31536000) == {"Strict-Transport-Security": "max-age=31536000"}
    assert hsts_header(False, 31536000) == {}
    assert hsts_header(True, 0) == {}


OURS = HostPolicy(["webui.example.com"])


@pytest.mark.parametrize(
    "host, path, port, expected",
    [
        ("webui.example.com", "/ui/?a=1", 443, "https://webui.example.com/ui/?a=1"),
        ("webui.example.com:8080", "/", 8443, "https://webui.example.com:8443/"),
        ("WEBUI.example.com", "/x", 443, "https://webui.example.com/x"),
        ("[::1]:8080", "/", 8443, "https://[::1]:8443/"),
        ("127.0.0.1:8080", "//evil.net/x", 443, "https://127.0.0.1//evil.net/x"),  # a path on our host
        ("evil.net@webui.example.com", "/", 443, None),
        ("webui.example.com/evil", "/", 443, None),
        ("webui.example.com\r\nSet-Cookie: a=b", "/", 443, None),
        ("", "/", 443, None),
        (None, "/", 443, None),
        ("webui.example.com", "http://evil.net/", 443, None),
        ("evil.net", "/", 443, None),  # a well-formed host that is not ours
        ("evil.net:8080", "/", 443, None),
        ("webui.example.com.", "/", 443, None),  # trailing dot: another name
        ("[2001:db8::1]", "/", 443, None),
        ("localhost:8080", "/", 8443, "https://localhost:8443/"),
    ],
)
def test_https_location(host, path, port, expected):
    assert https_location(host, path, port, OURS) == expected


async def echo(request: web.Request) -> web.Response:
    # Reflects a query value into a header: aiohttp must refuse line breaks in it.
    return web.Response(text="ok", headers={"X-Echo": request.query.get("v", "")})


@pytest.fixture
async def listening():
    """An application with the front door's parser limits and Server-header removal, on a real port."""
    config = parse_config({"security": {"max_header_size": 2048, "max_headers": 20}})
    app = web.Application(handler_args=parser_limits(config))
    app.router.add_get("/echo", echo)
    without_server_header(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield port
    await runner.cleanup()


async def exchange(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    return answer


def head_of(answer: bytes) -> tuple[int, str]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    return int(head.split(" ", 2)[1]), head.lower()


GET = b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"


@pytest.mark.parametrize(
    "raw, status",
    [
        (GET + b"\r\n", 200),
        (b"GARBAGE\r\n\r\n", 400),
        (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 3000 + b"\r\n\r\n", 400),
        (b"GET /" + b"a" * 3000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (GET + b"".join(b"X-H%d: v\r\n" % i for i in range(30)) + b"\r\n", 400),
        (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\rInjected: 1\r\n\r\n", 400),
        (b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400),
        (b"GET /echo HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", 400),
        (b"GET /echo HTTP/1.1\r\nHost: x\r\n X-Folded: b\r\n\r\n", 400),
        (b"GET /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
    ],
)
async def test_bad_requests_get_400_without_a_server_header(listening, raw, status):
    answer_status, head = head_of(await exchange(listening, raw))
    assert answer_status == status
    assert "\r\nserver:" not in head
    answer_status, _ = head_of(await exchange(listening, GET + b"\r\n"))  # and the process serves on
    assert answer_status == 200


async def test_a_line_break_cannot_be_smuggled_into_a_response_header(listening):
    answer = await exchange(listening, b"GET /echo?v=a%0d%0aSet-Cookie:%20evil=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"set-cookie" not in answer.lower()  # aiohttp refuses to write the headers: the connection drops
    status, _ = head_of(await exchange(listening, GET + b"\r\n"))
    assert status == 200


async def test_redirect_listener_sends_plain_http_to_https():
    runner = web.AppRunner(redirect_app(8443, OURS), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        status, head = head_of(
            await exchange(
                port,
                b"POST /server/login?x=1 HTTP/1.1\r\nHost: webui.example.com\r\n"
                b"Content-Length: 0\r\nConnection: close\r\n\r\n",
            )
        )
        assert status == 308 and "location: https://webui.example.com:8443/server/login?x=1" in head
        assert "set-cookie" not in head and "\r\nserver:" not in head
        status, _ = head_of(await exchange(port, b"GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n"))
        assert status == 400
        status, head = head_of(await exchange(port, b"GET / HTTP/1.1\r\nHost: evil.com\r\nConnection: close\r\n\r\n"))
        assert status == 421 and "location" not in head and "evil" not in head
    finally:
        await runner.cleanup()


class _MissCountingState(dict):
    """A request's storage that counts lookups of absent keys through ``[]`` (each a raised ``KeyError``)."""

    misses = 0

    def __getitem__(self, key):
        if key not in self:
            type(self).misses += 1
        return super().__getitem__(key)


PRESENT = web.RequestKey("present", str)
ABSENT = web.RequestKey("absent", str)


async def state_lookups(request: web.Request) -> web.Response:
    request._state = _MissCountingState(request._state)
    request[PRESENT] = "here"
    answers = [request.get(PRESENT), request.get(ABSENT), request.get(ABSENT, "dflt"), PRESENT in request]
    answers += [ABSENT in request, len(request)]
    del request[PRESENT]
    answers += [PRESENT in request, request.get(PRESENT)]
    return web.json_response({"answers": answers, "misses": _MissCountingState.misses})


async def test_request_get_and_in_look_absent_keys_up_without_raising():
    # Mapping's get/in raise and catch a KeyError for an absent key; the front door's requests ask
    # their storage directly, with the same answers.
    app = web.Application()
    app.router.add_get("/state", state_lookups)
    without_server_header(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        answer = await exchange(port, b"GET /state HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        await runner.cleanup()
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["answers"] == ["here", None, "dflt", True, False, 1, False, None]
    assert body["misses"] == 0


def reference_finish_headers(security: Security, request: web.Request, headers) -> None:
    """``Security.finish_headers`` as main had it before the eighth session (one header at a time)."""
    from frontdoor.cors import apply_cors
    from frontdoor.observability import REQUEST_ID_KEY
    from frontdoor.problems import API_PREFIXES, PROXIED_PREFIXES
    from frontdoor.security import PREFLIGHT, RATE_LIMIT
    from frontdoor.security_headers import CSP_NONCE

    path = request.path
    proxied = path.startswith(PROXIED_PREFIXES)
    if request.get(REQUEST_ID_KEY) is not None:
        headers["X-Request-ID"] = request.get(REQUEST_ID_KEY)
    if path.startswith(API_PREFIXES) and not (request.method == "OPTIONS" and request.get(PREFLIGHT)):
        apply_cors(headers, security._origins, request.headers.get("Origin"))
    config = security._config
    ours = page_headers(headers.get("Content-Type"), request.get(CSP_NONCE), config.page_policy, proxied).items()
    for name, value in (*ours, *hsts_header(request.secure, config.hsts_max_age).items()):
        if name != "Content-Security-Policy" or name not in headers:
            headers[name] = value
    if request.get(RATE_LIMIT) is not None:
        headers.update(request.get(RATE_LIMIT).headers())


UPSTREAM_HEADS = [
    [("Content-Type", "application/json"), ("X-Request-ID", "0123456789abcdef")],
    [("Content-Type", "text/html"), ("Content-Security-Policy", "sandbox"), ("X-Frame-Options", "SAMEORIGIN")],
    [("Access-Control-Allow-Origin", "*"), ("access-control-max-age", "9"), ("Vary", "Accept"), ("A", "1")],
    [("ACCESS-CONTROL-ALLOW-CREDENTIALS", "true"), ("Access-Control-Expose-Headers", "X")],
    [("referrer-policy", "x"), ("B", "2"), ("REFERRER-POLICY", "y"), ("X-RateLimit-Limit", "5"), ("Vary", "*")],
    [],
]


@pytest.mark.parametrize("path", ["/func/session/x", "/webapi/store/x", "/server/login-check", "/", "/static/a.js"])
@pytest.mark.parametrize("upstream", UPSTREAM_HEADS)
async def test_finish_headers_sets_what_one_header_at_a_time_set(path, upstream):
    from frontdoor.observability import REQUEST_ID_KEY
    from frontdoor.ratelimit import Verdict
    from frontdoor.security import RATE_LIMIT
    from frontdoor.security_headers import CSP_NONCE

    config = parse_config({"security": {"hsts_max_age": 100, "cors_allowed_origins": ["https://app.example.com"]}})
    security = Security(SimpleNamespace(config=config, trusted_proxies=TrustedProxies([])), None, None, None)
    variants = [
        ({}, None, None),
        ({"Origin": "https://app.example.com"}, Verdict(True, 100, 42, 60), ssl.create_default_context()),
        ({"Origin": "https://evil.example.com"}, Verdict(False, 100, 0, 60, retry_after=7), None),
    ]
    for request_headers, verdict, tls in variants:
        results = []
        for finish in (security.finish_headers, None):
            request = make_mocked_request("GET", path, headers=request_headers, sslcontext=tls)
            request[REQUEST_ID_KEY] = "fedcba9876543210"
            request[CSP_NONCE] = "nonce"
            if verdict is not None:
                request[RATE_LIMIT] = verdict
            response = web.Response(body=b"{}")
            response.headers.clear()
            response.headers.extend(upstream)
            if finish is None:
                reference_finish_headers(security, request, response.headers)
            else:
                finish(request, response)
            results.append(list(response.headers.items()))
        assert results[0] == results[1], (request_headers, verdict)


# ---- every kind of answer passes the finishing hook, as aiohttp's on_response_prepare would ----


def stamp(_request: web.Request, response: web.StreamResponse) -> None:
    response.headers.add("X-Finished", "1")  # added, not set: a second call would show twice


async def stamp_signal(request: web.Request, response: web.StreamResponse) -> None:
    stamp(request, response)


async def refusing_middleware_app(handler_kinds: dict, *, by_signal: bool) -> web.Application:
    @web.middleware
    async def refuse(request: web.Request, handler):
        if "X-Refuse" in request.headers:
            return web.Response(status=421, text="not here")  # an answer no handler made
        if "X-Raise" in request.headers:
            raise web.HTTPBadRequest(text="raised by a middleware")
        return await handler(request)

    app = web.Application(client_max_size=1024, middlewares=[refuse])
    for method, path, handler in handler_kinds.values():
        if handler is not None:
            app.router.add_route(method, path, handler)
    if by_signal:  # aiohttp's own mechanism: the reference
        app.on_response_prepare.append(stamp_signal)
        without_server_header(app)
    else:
        without_server_header(app, finish=stamp)
    return app


async def a_stream(_request):
    response = web.StreamResponse()
    response.content_type = "text/plain"
    await response.prepare(_request)
    await response.write(b"chunk")
    await response.write_eof()
    return response


async def a_websocket(request):
    socket = web.WebSocketResponse()
    await socket.prepare(request)
    await socket.close()
    return socket


async def read_body(request):
    await request.read()  # over client_max_size: aiohttp's own 413
    return web.Response(text="read")


async def crash(_request):
    raise RuntimeError("a bug")  # aiohttp's own 500


async def raise_forbidden(_request):
    raise web.HTTPForbidden(text="no")


async def plain(_request):
    return web.Response(text="ok")


async def a_file(_request):
    return web.FileResponse(__file__)


WS_HEAD = (
    b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
)
# kind: (route method, route path, handler), the request's head after its line, its body
ANSWER_KINDS = {
    "a handler's Response": (("GET", "/plain", plain), b"GET /plain", b"", b""),
    "a handler's StreamResponse": (("GET", "/stream", a_stream), b"GET /stream", b"", b""),
    "a handler's raised HTTPException": (("GET", "/raise", raise_forbidden), b"GET /raise", b"", b""),
    "a file": (("GET", "/file", a_file), b"GET /file", b"", b""),
    "a WebSocket handshake": (("GET", "/ws", a_websocket), b"GET /ws", WS_HEAD, b""),
    "aiohttp's 404": ((None, None, None), b"GET /nowhere", b"", b""),
    "aiohttp's 405": ((None, None, None), b"DELETE /plain", b"", b""),
    "aiohttp's 413": (("POST", "/upload", read_body), b"POST /upload", b"Content-Length: 2048\r\n", b"x" * 2048),
    "aiohttp's 500": (("GET", "/crash", crash), b"GET /crash", b"", b""),
    "a middleware's answer": ((None, None, None), b"GET /plain", b"X-Refuse: 1\r\n", b""),
    "a middleware's raised HTTPException": ((None, None, None), b"GET /plain", b"X-Raise: 1\r\n", b""),
}


async def head_of_answer(port: int, raw: bytes) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    except asyncio.IncompleteReadError as exc:  # a closed connection: whatever came
        head = exc.partial
    finally:
        writer.close()
    return head.decode("latin-1").split("\r\n")


async def answers_of_every_kind(by_signal: bool) -> dict[str, tuple[str, int, bool]]:
    routes = {kind: route for kind, (route, *_rest) in ANSWER_KINDS.items()}
    runner = web.AppRunner(await refusing_middleware_app(routes, by_signal=by_signal), access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    seen = {}
    try:
        for kind, (_route, line, head, body) in ANSWER_KINDS.items():
            raw = line + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + head + b"\r\n" + body
            lines = await head_of_answer(port, raw)
            finished = sum(1 for header in lines if header.lower() == "x-finished: 1")
            seen[kind] = (lines[0], finished, any(header.lower().startswith("server:") for header in lines))
        lines = await head_of_answer(port, b"GARBAGE\r\n\r\n")  # the parser's own 400: no route, no hook
        seen["the parser's 400"] = (lines[0], sum(1 for h in lines if h.lower() == "x-finished: 1"), False)
    finally:
        await runner.cleanup()
    return seen


async def test_every_kind_of_answer_is_finished_once_as_on_response_prepare_would():
    direct, by_signal = await answers_of_every_kind(False), await answers_of_every_kind(True)
    assert direct == by_signal  # the same kinds finished as with aiohttp's signal, the same statuses
    statuses = {kind: status.split(" ")[1] for kind, (status, _finished, _server) in direct.items()}
    assert statuses == {
        "a handler's Response": "200",
        "a handler's StreamResponse": "200",
        "a handler's raised HTTPException": "403",
        "a file": "200",
        "a WebSocket handshake": "101",
        "aiohttp's 404": "404",
        "aiohttp's 405": "405",
        "aiohttp's 413": "413",
        "aiohttp's 500": "500",
        "a middleware's answer": "421",
        "a middleware's raised HTTPException": "400",
        "the parser's 400": "400",
    }
    for kind, (_status, finished, server) in direct.items():
        assert finished == (0 if kind == "the parser's 400" else 1), kind
        assert not server, kind


async def test_the_finish_comes_before_other_prepare_hooks():
    app = web.Application()
    app.router.add_get("/plain", plain)
    app.on_response_prepare.append(stamp_signal)
    without_server_header(app, finish=lambda _request, response: response.headers.add("X-First", "1"))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        lines = await head_of_answer(port, b"GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    finally:
        await runner.cleanup()
    names = [line.split(":", 1)[0] for line in lines[1:] if line]
    assert names.index("X-First") < names.index("X-Finished") and "Server" not in names


# ---- a relayed answer's shorter way through finish_headers sets the same headers ----


def reference_downstream_headers(upstream, cookies):
    """``downstream_headers`` as main had it before the ninth session (the upstream's CORS kept, for
    ``apply_cors`` to drop)."""
    from multidict import CIMultiDict

    from frontdoor.answer_names import ANSWER_HEADERS_OF_OURS, HOP_BY_HOP
    from frontdoor.upstream import PROXIED_POLICY, contained_cookie

    headers = CIMultiDict()
    for name, value in upstream.items():
        lower = name.lower()
        if lower in HOP_BY_HOP or lower in ANSWER_HEADERS_OF_OURS:
            continue
        if lower == "set-cookie":
            value = contained_cookie(value, cookies)
            if value is None:
                continue
        headers.add(name, value)
    headers["Content-Security-Policy"] = PROXIED_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    return headers


RELAYED_HEADS = [
    *UPSTREAM_HEADS,
    [("Content-Type", "application/json"), ("Content-Length", "2"), ("Date", "Mon, 30 Nov 2026 01:00:00 GMT")],
    [("Access-Control-Allow-Origin", "*"), ("X-Content-Type-Options", "sniff"), ("x-content-type-options", "x")],
    [("Strict-Transport-Security", "max-age=1"), ("Set-Cookie", "a=1; Domain=x.example"), ("Vary", "Accept")],
    [("Access-Control-Allow-Credentials", "true"), ("Server", "Manager"), ("Connection", "keep-alive")],
    [("X-Request-ID", "upstream"), ("Content-Security-Policy", "default-src *"), ("X-RateLimit-Remaining", "1")],
]


@pytest.mark.parametrize("upstream", RELAYED_HEADS)
@pytest.mark.parametrize("streamed", [False, True])
async def test_a_relayed_answer_gets_what_a_plain_answer_of_main_s_headers_got(upstream, streamed):
    from multidict import CIMultiDict, CIMultiDictProxy

    from frontdoor.observability import REQUEST_ID_KEY
    from frontdoor.ratelimit import Verdict
    from frontdoor.security import RATE_LIMIT
    from frontdoor.security_headers import RelayedAnswer, RelayedStream
    from frontdoor.upstream import cookie_rules, downstream_headers

    config = parse_config({"security": {"hsts_max_age": 100, "cors_allowed_origins": ["https://app.example.com"]}})
    security = Security(SimpleNamespace(config=config, trusted_proxies=TrustedProxies([])), None, None, None)
    rules = cookie_rules("AIOHTTP_SESSION", "sToken", "/func", manager=True)
    arrived = CIMultiDictProxy(CIMultiDict(upstream))
    variants = [
        ({}, None, None),
        ({"Origin": "https://app.example.com"}, Verdict(True, 100, 42, 60), ssl.create_default_context()),
        ({"Origin": "https://evil.example.com"}, Verdict(False, 100, 0, 60, retry_after=7), None),
    ]
    for request_headers, verdict, tls in variants:
        results = []
        for relayed in (True, False):
            request = make_mocked_request("GET", "/func/session/x", headers=request_headers, sslcontext=tls)
            request[REQUEST_ID_KEY] = "fedcba9876543210"
            if verdict is not None:
                request[RATE_LIMIT] = verdict
            if relayed:
                headers = downstream_headers(arrived, cookies=rules)
                response = RelayedStream(headers=headers) if streamed else RelayedAnswer(body=b"{}", headers=headers)
                security.finish_headers(request, response)
            else:
                response = web.Response(body=b"{}", headers=reference_downstream_headers(arrived, rules))
                reference_finish_headers(security, request, response.headers)
            results.append(list(response.headers.items()))
        assert results[0] == results[1], (request_headers, verdict)


def test_every_proxied_path_is_an_api_path():
    # A relayed answer's CORS is set without asking whether its path is an API path (finish_headers).
    from frontdoor.problems import API_PREFIXES, PROXIED_PREFIXES

    assert all(prefix.startswith(API_PREFIXES) for prefix in PROXIED_PREFIXES)
