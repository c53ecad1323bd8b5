"""The daemon's Manager client on the wire, against real aiohttp servers: what the Manager sees, the answers
it can give (sized, chunked, compressed, up to EOF, too big, cut short, never), TLS, and the endpoints it
fails over between.  On uvloop and asyncio's loop (conftest.py)."""

from __future__ import annotations

import asyncio
import json
import ssl
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator

import pytest
from aiohttp import web

from contract.config import parse_config
from contract.session_commands import Forwarded
from session_daemon.manager_client import MAX_ANSWER_BYTES, ManagerClient, ManagerOk, ManagerUnreachable
from tests.support.blackhole import Blackhole
from tests.support.ports import free_port
from tests.support.tls import write_loopback_certificate

FORWARDED = Forwarded("10.0.0.7", "webui.example", "https")
IN_TIME = ManagerUnreachable("The Manager did not answer in time.")
NO_CONNECTION = ManagerUnreachable("Cannot connect to the Manager.")
TOO_LARGE = ManagerUnreachable("The Manager's answer is too large.")


class Manager:
    """An aiohttp server with one route per kind of answer; it records what reaches it."""

    def __init__(self) -> None:
        self.seen: list[tuple[list[tuple[str, str]], bytes]] = []
        self.release = asyncio.Event()  # ends the hanging handler at teardown
        self.app = web.Application()
        self.app.router.add_post("/auth/authorize", self.authorize)
        for name in ("chunked", "gzip", "big", "endless", "cut", "hang"):
            self.app.router.add_post(f"/answer/{name}", getattr(self, name))

    async def _record(self, request: web.Request) -> None:
        self.seen.append((list(request.headers.items()), await request.read()))

    async def authorize(self, request: web.Request) -> web.Response:
        await self._record(request)
        response = web.json_response({"data": {"access_key": "AK", "secret_key": "SK", "role": "user"}})
        response.set_cookie("AWSALB", "sticky")  # a load balancer's: the client must not send it back
        return response

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for piece in (b'{"data": ', b'{"status": ', b'"active"}}'):
            await response.write(piece)
        await response.write_eof()
        return response

    async def gzip(self, request: web.Request) -> web.Response:
        await self._record(request)
        response = web.json_response({"data": {"padding": "x" * 4000}})
        response.enable_compression()  # only if the request's Accept-Encoding allows it
        return response

    async def big(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(body=b'{"data": "' + b"x" * MAX_ANSWER_BYTES + b'"}', content_type="application/json")

    async def endless(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        while True:  # until the client goes away
            await response.write(b"x" * 65536)

    async def cut(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        response = web.StreamResponse(headers={"Content-Length": "1000"})
        await response.prepare(request)
        await response.write(b'{"data": ')
        assert request.transport is not None
        request.transport.close()
        return response

    async def hang(self, request: web.Request) -> web.Response:
        await self._record(request)
        await self.release.wait()
        return web.json_response({})


@asynccontextmanager
async def serving(manager: Manager, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    runner = web.AppRunner(manager.app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        manager.release.set()
        await runner.cleanup()


@asynccontextmanager
async def client(endpoints: list[str], total_timeout: float = 30.0, **api) -> AsyncIterator[ManagerClient]:
    manager = ManagerClient(endpoints, parse_config({"api": api}).api, total_timeout=total_timeout)
    await manager.start()
    try:
        yield manager
    finally:
        await manager.close()


async def authorize(manager: ManagerClient):
    return await manager.authorize("user@lablup.com", "pass word", {"otp": "123456"}, FORWARDED)


@pytest.fixture
async def manager() -> AsyncIterator[tuple[Manager, str]]:
    server = Manager()
    async with serving(server) as url:
        yield server, url


async def test_the_manager_sees_the_same_headers_and_body_and_never_a_cookie(manager):
    server, url = manager
    async with client([url], domain="default") as calls:
        assert isinstance(await authorize(calls), ManagerOk)
        assert isinstance(await authorize(calls), ManagerOk)
    (headers, body), (second, _) = server.seen
    assert [name for name, _ in headers] == [
        *("Host", "Date", "X-BackendAI-Version", "X-BackendAI-Domain", "User-Agent"),
        *("X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"),
        *("Accept", "Accept-Encoding", "Content-Length", "Content-Type"),
    ]
    values = dict(headers)
    assert values["Host"] == url.removeprefix("http://")
    assert (values["X-Forwarded-For"], values["X-Forwarded-Host"]) == ("10.0.0.7", "webui.example")
    assert (values["Accept-Encoding"], values["Content-Type"]) == ("gzip, deflate", "application/json")
    payload = {"otp": "123456", "type": "keypair", "domain": "default", "username": "user@lablup.com"}
    assert body == json.dumps({**payload, "password": "pass word"}).encode()  # json.dumps' spacing, as before
    assert "Cookie" not in dict(second)


@pytest.mark.parametrize("kind", ["chunked", "gzip"])
async def test_chunked_and_compressed_answers_are_read_whole(manager, kind):
    _server, url = manager
    async with client([url]) as calls:
        reply = await calls.post_json(f"/answer/{kind}", {}, FORWARDED)
    assert isinstance(reply, ManagerOk) and reply.data["data"] in ({"status": "active"}, {"padding": "x" * 4000})


async def test_an_answer_that_ends_with_the_connection_is_read_whole():
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"data": {"status": "ok"}}')
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server, client([f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"]) as calls:
        reply = await calls.post_json("/auth/signup", {}, FORWARDED)
    assert isinstance(reply, ManagerOk) and reply.data == {"data": {"status": "ok"}}


@pytest.mark.parametrize("kind", ["big", "endless"])
async def test_an_answer_over_the_limit_is_refused_not_read(manager, kind):
    _server, url = manager
    async with client([url]) as calls:
        assert await calls.post_json(f"/answer/{kind}", {}, FORWARDED) == TOO_LARGE


async def test_an_answer_cut_short_is_a_failed_connection(manager):
    _server, url = manager
    async with client([url]) as calls:
        reply = await calls.post_json("/answer/cut", {}, FORWARDED)
    assert reply == ManagerUnreachable("The connection to the Manager failed (ConnectionLost).")


async def test_a_manager_that_never_answers_times_out_and_the_call_is_not_repeated_elsewhere(manager):
    server, url = manager
    backup = Manager()
    async with serving(backup) as backup_url, client([url, backup_url], total_timeout=0.5) as calls:
        assert await calls.post_json("/answer/hang", {}, FORWARDED) == IN_TIME
    assert len(server.seen) == 1 and backup.seen == []  # it may have been received: not sent twice


async def test_refused_and_silent_endpoints_fail_over_and_the_one_that_answered_is_kept(manager):
    server, url = manager
    refused = f"http://127.0.0.1:{free_port()}"
    silent = Blackhole(free_port())
    silent.swallow()
    try:
        async with client([refused, f"http://127.0.0.1:{silent.port}", url], connect_timeout=0.3) as calls:
            assert isinstance(await authorize(calls), ManagerOk)
            assert isinstance(await authorize(calls), ManagerOk)  # straight to the last one that answered
        assert len(server.seen) == 2
        async with client([refused]) as calls:
            assert await authorize(calls) == NO_CONNECTION
        async with client([f"http://127.0.0.1:{silent.port}"], connect_timeout=0.3) as calls:
            assert await authorize(calls) == IN_TIME
    finally:
        silent.close()


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, ssl.SSLContext]:
    cert, key = write_loopback_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


async def test_tls_is_verified_by_default_against_the_system_trust_store(certificate, monkeypatch):
    cert, context = certificate
    server = Manager()
    async with serving(server, context) as url:
        async with client([url]) as calls:
            assert await authorize(calls) == NO_CONNECTION  # a certificate nobody vouches for
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # OpenSSL's own override of the system store
        async with client([url]) as calls:
            assert isinstance(await authorize(calls), ManagerOk)
        async with client([url.replace("127.0.0.1", "localhost")]) as calls:
            assert await authorize(calls) == NO_CONNECTION  # the certificate names 127.0.0.1 only
    assert len(server.seen) == 1


async def test_tls_without_verification_when_configured(certificate):
    _cert, context = certificate
    server = Manager()
    async with serving(server, context) as url, client([url.replace("https", "HTTPS")], ssl_verify=False) as calls:
        assert isinstance(await authorize(calls), ManagerOk)  # any spelling of the scheme: never in clear
    assert server.seen[0][1].startswith(b'{"otp"')
