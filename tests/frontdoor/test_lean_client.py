"""Which client serves a proxied request (no I/O), the request's bytes (no I/O), and the lean client's
pool against real servers: reuse, the one retry of a stale kept-alive connection, refusals, TLS."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from aiohttp import web
from yarl import URL

from frontdoor.lean_client import ConnectTimeout, LeanClient, NotConnected, Slots, fields_wire, lean_client_serves
from frontdoor.upstream_wire import AnswerLate, ConnectionLost
from service_runtime.http1 import client_tls
from tests.support.crafted_http import CLOSE, CraftedServer
from tests.support.lean_requests import fields_of, send
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.tls import write_loopback_certificate

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
HOST = [("Host", "127.0.0.1")]


@pytest.mark.parametrize(
    "method, body_to_stream, websocket, scheme, lean",
    [
        ("GET", False, False, "http", True),
        ("HEAD", False, False, "https", True),
        ("DELETE", False, False, "http", True),
        ("POST", False, False, "http", True),  # an empty POST: nothing to stream
        ("POST", True, False, "http", False),  # an upload streams through aiohttp's client
        ("PUT", True, False, "https", False),
        ("GET", False, True, "http", False),  # a WebSocket handshake
        ("TRACE", False, False, "http", False),
        ("PROPFIND", False, False, "http", False),
        ("GET", False, False, "ws", False),
    ],
)
def test_which_client_serves_a_request(method, body_to_stream, websocket, scheme, lean):
    assert lean_client_serves(method, body_to_stream=body_to_stream, websocket=websocket, scheme=scheme) is lean


def test_the_request_bytes():
    wire = fields_wire("GET", "/a?b=%2F", fields_of([("Host", "m:8081"), ("X-A", "1")]))
    assert wire == b"GET /a?b=%2F HTTP/1.1\r\nHost: m:8081\r\nX-A: 1\r\n\r\n"
    assert fields_wire("POST", "/", fields_of(HOST)).endswith(b"Content-Length: 0\r\n\r\n")  # as aiohttp sends it
    assert fields_wire("POST", "/", fields_of([*HOST, ("content-length", "0")])).count(b"ength") == 1
    # A body the front door holds (a decoded X-BackendAI-Encoded one): its length, then the body.
    assert fields_wire("POST", "/", fields_of(HOST), b'{"a": 1}').endswith(b'Content-Length: 8\r\n\r\n{"a": 1}')
    assert fields_wire("POST", "/", fields_of([*HOST, ("Content-Length", "8")]), b'{"a": 1}').count(b"ength") == 1


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\rb", "a\0b"])
def test_a_header_with_a_line_break_is_never_written(value):
    with pytest.raises(ValueError):
        fields_wire("GET", "/", fields_of([*HOST, ("X-A", value)]))
    with pytest.raises(ValueError):
        fields_wire("GET", "/", fields_of([*HOST, (f"X-{value}", "1")]))


def _client(limit: int = 10, tls: ssl.SSLContext | None = None) -> LeanClient:
    return LeanClient(limit=limit, tls=tls or client_tls(True), connect_timeout=lambda: 2.0)


async def _fetch(client: LeanClient, url: str, method: str = "GET") -> tuple[int, bytes]:
    connection = await send(client, method, URL(url), "/x", HOST)
    try:
        return connection.status, await connection.read()
    finally:
        client.release(connection, URL(url))


async def test_kept_alive_connections_are_reused():
    client = _client()
    async with CraftedServer([]) as server:
        for _ in range(5):
            assert await _fetch(client, server.url) == (200, b"ok")
        assert server.connections == 1 and len(server.requests) == 5
    client.close()


@pytest.mark.parametrize("method, retried", [("GET", True), ("DELETE", True), ("POST", False), ("PATCH", False)])
async def test_a_kept_alive_connection_closed_before_the_answer_is_retried_for_idempotent_methods(method, retried):
    client = _client()
    async with CraftedServer([OK, CLOSE]) as server:
        assert await _fetch(client, server.url) == (200, b"ok")
        if retried:
            assert await _fetch(client, server.url, method) == (200, b"ok")
            assert server.connections == 2 and len(server.requests) == 3
        else:
            with pytest.raises(ConnectionLost) as lost:
                await _fetch(client, server.url, method)
            assert not lost.value.answered  # nothing of an answer: the caller's failover rules decide
            assert len(server.requests) == 2
    client.close()


async def test_a_connection_lost_twice_is_not_retried_again():
    client = _client()
    async with CraftedServer([CLOSE, CLOSE]) as server:
        with pytest.raises(ConnectionLost):
            await _fetch(client, server.url)
        assert len(server.requests) == 2
    client.close()


async def test_a_body_in_memory_is_sent_and_resent_with_its_request():
    client = _client()
    async with CraftedServer([OK, CLOSE]) as server:
        assert await _fetch(client, server.url) == (200, b"ok")
        connection = await send(client, "PUT", URL(server.url), "/x", HOST, b"decoded")
        assert (connection.status, await connection.read()) == (200, b"ok")
        client.release(connection, URL(server.url))
        assert server.bodies == [b"", b"decoded", b"decoded"]  # the kept-alive one closed: sent again whole
    client.close()


async def test_nothing_listening_is_not_connected():
    client = _client()
    with pytest.raises(NotConnected):
        await _fetch(client, f"http://127.0.0.1:{free_port()}")
    client.close()


class Mute:
    """A TCP server that accepts and never answers, not even a TLS handshake; what it accepted is closed
    at its end (dropped, each left an unclosed transport to the loop's end: ResourceWarnings)."""

    async def __aenter__(self) -> int:
        self._writers: list[asyncio.StreamWriter] = []
        self._server = await asyncio.start_server(lambda _reader, writer: self._writers.append(writer), "127.0.0.1", 0)
        return self._server.sockets[0].getsockname()[1]

    async def __aexit__(self, *_exc) -> None:
        for writer in self._writers:
            writer.close()
        self._server.close()
        await self._server.wait_closed()


async def test_a_connect_that_hangs_is_a_connect_timeout():
    client = LeanClient(limit=1, tls=client_tls(True), connect_timeout=lambda: 0.2)
    async with Mute() as port:
        with pytest.raises(ConnectTimeout):
            await _fetch(client, f"https://127.0.0.1:{port}")
    client.close()


async def test_tls_is_verified_unless_configured_off(tmp_path):
    cert, key = write_loopback_certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def answer(_request):
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/x", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    url = f"https://127.0.0.1:{port}"
    try:
        verified, unverified = _client(tls=client_tls(True)), _client(tls=client_tls(False))
        with pytest.raises(NotConnected):  # self-signed: not in the trust store
            await _fetch(verified, url)
        assert await _fetch(unverified, url) == (200, b"ok")
        trusting = ssl.create_default_context(cafile=str(cert))
        assert await _fetch(_client(tls=trusting), url) == (200, b"ok")
    finally:
        await runner.cleanup()


async def test_the_limit_bounds_connections_in_use():
    client = _client(limit=1)
    async with CraftedServer([]) as server:
        first = await send(client, "GET", URL(server.url), "/x", HOST)
        second = asyncio.ensure_future(_fetch(client, server.url))
        done, _pending = await asyncio.wait([second], timeout=0.2)  # it must stay waiting for the slot
        assert not done and len(server.requests) == 1
        assert await first.read() == b"ok"
        client.release(first, URL(server.url))
        assert await second == (200, b"ok")
        assert server.connections == 1
    client.close()


class SlowServer:
    """Reads each request head; answers after ``head_after`` s with a head and, ``body_after`` s later,
    a 2-byte body (``head_after=None``: never answers).  Counts connections and their ends."""

    def __init__(self, head_after: float | None, body_after: float = 0.0):
        self.head_after, self.body_after = head_after, body_after
        self.connections = self.closed_by_client = 0
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *_exc) -> None:
        # Its connections too (Python 3.11's Server has no close_clients()): one the client still pools
        # was left to the loop's end ("unclosed transport", "loop is closed" ResourceWarnings).
        for writer in self._writers:
            writer.close()
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                if self.head_after is None:
                    await reader.read()  # until the client closes
                    self.closed_by_client += 1
                    return
                await asyncio.sleep(self.head_after)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
                await asyncio.sleep(self.body_after)
                writer.write(b"ok")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def _in(seconds: float) -> float:
    return asyncio.get_running_loop().time() + seconds


async def test_no_head_by_the_deadline_is_answer_late_and_the_connection_is_closed():
    client = _client()
    server = SlowServer(head_after=None)
    async with server as url:
        started = asyncio.get_running_loop().time()
        with pytest.raises(AnswerLate):  # (wait_for: a client without the deadline fails, not hangs)
            await asyncio.wait_for(send(client, "GET", URL(url), "/x", HOST, deadline=_in(0.3)), 5)
        assert 0.25 < asyncio.get_running_loop().time() - started < 2.0
        await eventually(lambda: server.closed_by_client == 1, timeout=5, what="the late connection closed")
    client.close()


async def test_the_deadline_ends_with_the_head():
    """Only the head is bound by the deadline: a body that comes after it is read whole, the connection
    kept (the timer must not fire later on a connection that went back to the pool)."""
    client = _client()
    server = SlowServer(head_after=0.0, body_after=0.5)
    async with server as url:
        connection = await send(client, "GET", URL(url), "/x", HOST, deadline=_in(0.2))
        assert await connection.read() == b"ok"
        client.release(connection, URL(url))
        await asyncio.sleep(0.1)
        server.body_after = 0.0
        assert await _fetch(client, url) == (200, b"ok")
        assert server.connections == 1
    client.close()


async def test_waiting_for_a_free_connection_counts_against_the_deadline():
    client = _client(limit=1)
    async with SlowServer(head_after=0.0) as url:
        first = await send(client, "GET", URL(url), "/x", HOST)
        with pytest.raises(AnswerLate):
            await asyncio.wait_for(send(client, "GET", URL(url), "/x", HOST, deadline=_in(0.2)), 5)
        assert await first.read() == b"ok"
        client.release(first, URL(url))
        assert await _fetch(client, url) == (200, b"ok")  # the late one gave its slot back
    client.close()


async def test_connecting_counts_against_the_deadline():
    client = LeanClient(limit=1, tls=client_tls(True), connect_timeout=lambda: 5.0)
    async with Mute() as port:
        with pytest.raises(AnswerLate):
            await send(client, "GET", URL(f"https://127.0.0.1:{port}"), "/x", HOST, deadline=_in(0.2))
    client.close()


async def test_one_timer_serves_the_deadlines_of_a_connections_requests():
    """The head's timer stays armed from one request to the next on a connection (a timer per
    ``response_timeout``, not one made and cancelled per request), and each request keeps its own
    deadline: a slow head after an earlier request's deadline passed is still waited for."""
    client = _client()
    server = SlowServer(head_after=0.0)
    async with server as url:
        connection = await send(client, "GET", URL(url), "/x", HOST, deadline=_in(0.3))
        timer = connection._timer
        assert timer is not None and await connection.read() == b"ok"
        client.release(connection, URL(url))
        for _ in range(5):
            again = await send(client, "GET", URL(url), "/x", HOST, deadline=_in(30))
            assert again is connection and connection._timer is timer  # left armed, not made anew
            assert await again.read() == b"ok"
            client.release(again, URL(url))
        server.head_after = 0.6  # past the first request's deadline: the timer fires and is armed again
        started = asyncio.get_running_loop().time()
        again = await send(client, "GET", URL(url), "/x", HOST, deadline=_in(30))
        assert asyncio.get_running_loop().time() - started >= 0.5 and await again.read() == b"ok"
        client.release(again, URL(url))
        assert server.connections == 1
    client.close()


async def test_a_request_with_an_earlier_deadline_than_the_armed_timer_times_out_at_its_own():
    client = _client()
    server = SlowServer(head_after=0.0)
    async with server as url:
        connection = await send(client, "GET", URL(url), "/x", HOST, deadline=_in(60))
        assert await connection.read() == b"ok"
        client.release(connection, URL(url))
        server.head_after = None  # never answers
        started = asyncio.get_running_loop().time()
        with pytest.raises(AnswerLate):  # (wait_for: a timer left at +60 s fails here, not hangs)
            await asyncio.wait_for(send(client, "GET", URL(url), "/x", HOST, deadline=_in(0.3)), 5)
        assert 0.25 < asyncio.get_running_loop().time() - started < 2.0
        assert connection.closed and connection._timer is None  # closed: its timer cancelled
    client.close()


async def test_slots_go_to_their_waiters_in_order_and_a_cancelled_waiter_holds_none():
    slots = Slots(1)
    assert slots.take() and not slots.take()
    first, second, third = (asyncio.ensure_future(slots.wait()) for _ in range(3))
    await asyncio.sleep(0)
    second.cancel()  # (a deadline passed) it leaves the queue
    await asyncio.sleep(0)
    slots.give()
    await asyncio.sleep(0)
    assert first.done() and not third.done() and second.cancelled()
    slots.give()
    await asyncio.sleep(0)
    assert third.done()
    handed = asyncio.ensure_future(slots.wait())
    await asyncio.sleep(0)
    slots.give()  # handed over, then the waiter is cancelled before it runs: it hands the slot on
    handed.cancel()
    await asyncio.sleep(0)
    assert handed.cancelled() and slots.take() and not slots.take()  # the one slot is free again, once
    slots.give()
    assert slots.take()


async def test_the_clients_clock_is_its_loops():
    """The pool's idle times and the exchange's deadlines are the loop's time, the loop looked up once."""
    client = _client()
    async with SlowServer(head_after=0.0) as url:
        assert await _fetch(client, url) == (200, b"ok")
        loop = asyncio.get_running_loop()
        assert abs(client.now() - loop.time()) < 0.05
        (connection,) = [c for idle in client._idle.values() for c in idle]
        assert loop.time() - 5 < connection.idle_since <= client.now()
        assert await _fetch(client, url) == (200, b"ok")  # the pooled one, within its keep-alive
    client.close()
