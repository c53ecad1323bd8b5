"""The session cookie's value kept per connection (frontdoor.cookie_memo), over real HTTP: always what
aiohttp's own parsing gives, whatever the header becomes on the same connection, and gone with it."""

from __future__ import annotations

import gc
import ssl

import aiohttp
import uvloop
from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdoor.cookie_memo import CookieMemo
from tests.frontdoor.test_tls_reload import write_certificate
from tests.support.polling import eventually

# One keep-alive connection sends these in turn: every change of the header (or of the name looked
# for) must be seen; quoting, duplicates and look-alike names are aiohttp's to decide, not ours.
HEADERS = [
    "webui_session=first",
    "webui_session=first",
    "webui_session=second",
    "lang=en; webui_session=second; theme=dark",
    'webui_session="quoted value"',
    "webui_session=a; webui_session=b",
    'other="x; webui_session=tossed"; webui_session=real',
    "WEBUI_SESSION=upper",
    "",
    "webui_session=back",
    "lang=en; webui_session=back; theme=dark",
]


async def serve(memo: CookieMemo, name: list[str], tls: ssl.SSLContext | None = None) -> TestServer:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "memo": memo.value(request, name[0]),
                "again": memo.value(request, name[0]),
                "aiohttp": request.cookies.get(name[0]),
                "port": request.transport.get_extra_info("peername")[1],
            }
        )

    app = web.Application()
    app.router.add_get("/", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=tls)
    return server


async def test_value_follows_the_header_and_the_name_on_one_connection():
    memo, name = CookieMemo(), ["webui_session"]
    server = await serve(memo, name)
    try:
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as client:
            ports = set()
            for index, header in enumerate([*HEADERS, HEADERS[-1]]):
                if index == len(HEADERS):
                    name[0] = "theme"  # a reloaded cookie name applies on the same connection, same header
                async with client.get(server.make_url("/"), headers={"Cookie": header} if header else {}) as answer:
                    got = await answer.json()
                assert got["memo"] == got["again"] == got["aiohttp"], header
                ports.add(got["port"])
            assert got["memo"] == "dark"
            assert len(ports) == 1  # all of it on one keep-alive connection
            assert len(memo) == 1
        gc.collect()
        await eventually(lambda: gc.collect() is not None and len(memo) == 0)  # gone with its connection
    finally:
        await server.close()


def test_a_transport_without_weak_references_is_parsed_per_request(tmp_path):
    """uvloop's TLS transport (the front door's loop with [service] ssl_enabled) takes no weak
    reference: the value is then parsed per request, and the request still served."""
    write_certificate(tmp_path, "localhost")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")

    async def scenario() -> list[dict]:
        memo = CookieMemo()
        server = await serve(memo, ["webui_session"], tls)
        try:
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as client:
                answers = []
                for value in ("one", "one", "two"):
                    url = server.make_url("/").with_scheme("https")
                    async with client.get(url, headers={"Cookie": f"webui_session={value}"}, ssl=False) as answer:
                        assert answer.status == 200
                        answers.append(await answer.json())
                assert len(memo) == 0
                return answers
        finally:
            await server.close()

    answers = uvloop.run(scenario())
    assert [a["memo"] for a in answers] == [a["aiohttp"] for a in answers] == ["one", "one", "two"]


async def test_a_derived_value_is_made_once_per_connection_and_value():
    memo, derived = CookieMemo(), []

    def derive(value: str) -> str:
        derived.append(value)
        return value.upper()

    async def handler(request: web.Request) -> web.Response:
        first = memo.value_with(request, "webui_session", derive)
        return web.json_response({"memo": first, "again": memo.value_with(request, "webui_session", derive)})

    app = web.Application()
    app.router.add_get("/", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as client:
            sent = ["webui_session=one", "webui_session=one", "lang=en", "webui_session=two", "webui_session=one"]
            answers = []
            for header in sent:
                async with client.get(server.make_url("/"), headers={"Cookie": header}) as answer:
                    answers.append(await answer.json())
        assert [a["memo"] for a in answers] == [a["again"] for a in answers]
        assert [a["memo"] for a in answers] == [
            ["one", "ONE"],
            ["one", "ONE"],
            [None, None],
            ["two", "TWO"],
            ["one", "ONE"],
        ]
        assert derived == ["one", "two", "one"]  # again only when the header brought another value
        gc.collect()
        await eventually(lambda: gc.collect() is not None and len(memo) == 0)
    finally:
        await server.close()


async def test_a_connections_peer_is_asked_once_and_forgotten_with_the_connection():
    from frontdoor import context

    asked = []

    async def handler(request: web.Request) -> web.Response:
        transport = request.transport
        if not hasattr(transport, "counted"):  # count the socket's answers (a wrapper per connection)
            original = transport.get_extra_info

            def get_extra_info(name, default=None):
                asked.append(name)
                return original(name, default)

            transport.counted = True
            transport.get_extra_info = get_extra_info
        return web.json_response({"peer": context._peer(request), "port": original_port(transport)})

    def original_port(transport) -> int:
        return type(transport).get_extra_info(transport, "peername")[1]

    app = web.Application()
    app.router.add_get("/", handler)
    server = TestServer(app, host="127.0.0.1")  # asyncio's own transports: they take attributes
    await server.start_server()
    try:
        for _connection in range(2):
            connector = aiohttp.TCPConnector(limit=1)
            async with aiohttp.ClientSession(connector=connector) as client:
                answers = []
                for _ in range(3):
                    async with client.get(server.make_url("/")) as answer:
                        answers.append(await answer.json())
            assert [a["peer"] for a in answers] == ["127.0.0.1"] * 3 and len({a["port"] for a in answers}) == 1
        assert asked == ["peername", "peername"]  # once per connection, not per request
        gc.collect()
        await eventually(lambda: gc.collect() is not None and len(context._PEERS) == 0)  # gone with them
    finally:
        await server.close()
