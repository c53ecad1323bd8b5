"""The lean client's answer parsing against a real asyncio server that writes crafted bytes: every
anomaly is refused and its connection never reused; the well-formed oddities (1xx, HEAD, 204, 304, a
body that ends at close, chunked) are read as aiohttp's client reads them."""

from __future__ import annotations

import pytest
from yarl import URL

from frontdoor.lean_client import LeanClient
from frontdoor.upstream_wire import HIGH_WATER, MAX_FIELD, MAX_HEADERS, MAX_LINE, ConnectionLost, MalformedAnswer
from service_runtime.http1 import client_tls
from tests.support.crafted_http import CraftedServer
from tests.support.lean_requests import send
from tests.support.polling import eventually

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def _client(limit: int = 10) -> LeanClient:
    return LeanClient(limit=limit, tls=client_tls(True), connect_timeout=lambda: 2.0)


async def _fetch(client: LeanClient, url: str, method: str = "GET") -> tuple[int, bytes]:
    connection = await send(client, method, URL(url), "/x", [("Host", "127.0.0.1")])
    try:
        return connection.status, await connection.read()
    finally:
        client.release(connection, URL(url))


REFUSED = {
    "both Content-Length and Transfer-Encoding": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "two different Content-Lengths": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    "a Content-Length that is not a number": b"HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok",
    "a bad chunk size": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "a chunk without its CRLF": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
    "a status line too long": b"HTTP/1.1 200 " + b"x" * (MAX_LINE + 1) + b"\r\nContent-Length: 0\r\n\r\n",
    "a header value too long": b"HTTP/1.1 200 OK\r\nX-Big: "
    + b"a" * (MAX_FIELD + 1)
    + b"\r\nContent-Length: 0\r\n\r\n",
    "a header name too long": b"HTTP/1.1 200 OK\r\n" + b"N" * (MAX_FIELD + 1) + b": 1\r\nContent-Length: 0\r\n\r\n",
    "too many headers": b"HTTP/1.1 200 OK\r\n"
    + b"".join(b"X-H%d: v\r\n" % i for i in range(MAX_HEADERS + 1))
    + b"Content-Length: 0\r\n\r\n",
    "an endless header": b"HTTP/1.1 200 OK\r\nX-Endless: " + b"a" * (3 * 1024 * 1024),
    "not HTTP at all": b"SSH-2.0-OpenSSH_9.2\r\n\r\n",
    "a space before a header's colon": b"HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok",
    "a line folded onto the previous header": b"HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\nContent-Length: 2\r\n\r\nok",
    "an upgrade nobody asked for": b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
}


@pytest.mark.parametrize("answer", REFUSED.values(), ids=REFUSED.keys())
async def test_an_anomalous_answer_is_refused_and_its_connection_closed(answer):
    client = _client()
    async with CraftedServer([answer]) as server:
        with pytest.raises(MalformedAnswer):
            await _fetch(client, server.url)
        assert await _fetch(client, server.url) == (200, b"ok")
        assert server.connections == 2  # the refused one was not reused
    client.close()


READ_AS_AIOHTTP_READS = {
    "a 100 Continue before the answer": (b"HTTP/1.1 100 Continue\r\n\r\n" + OK, "GET", (200, b"ok"), True),
    "two 1xx before the answer": (
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + OK,
        "GET",
        (200, b"ok"),
        True,
    ),
    "a chunked body": (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\nok\r\n3\r\n!!!\r\n0\r\nX-T: 1\r\n\r\n",
        "GET",
        (200, b"ok!!!"),
        True,
    ),
    "a 204": (
        b"HTTP/1.1 204 No Content\r\n\r\n",
        "DELETE",
        (204, b""),
        True,
    ),
    "a 304": (b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n", "GET", (304, b""), True),
    "a HEAD answer announcing a body": (
        b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
        "HEAD",
        (200, b""),
        False,
    ),
    "an answer that asks to close": (
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        "GET",
        (200, b"ok"),
        False,
    ),
}


@pytest.mark.parametrize(
    "answer, method, expected, reused", READ_AS_AIOHTTP_READS.values(), ids=READ_AS_AIOHTTP_READS.keys()
)
async def test_well_formed_answers_are_read_and_their_connection_kept_when_it_may_live(
    answer, method, expected, reused
):
    client = _client()
    async with CraftedServer([answer]) as server:
        assert await _fetch(client, server.url, method) == expected
        assert await _fetch(client, server.url) == (200, b"ok")
        assert server.connections == (1 if reused else 2)
    client.close()


async def test_a_body_that_ends_when_the_upstream_closes():
    client = _client()
    async with CraftedServer([b"HTTP/1.1 200 OK\r\n\r\nuntil the end"]) as server:
        connection = await send(client, "GET", URL(server.url), "/x", [("Host", "127.0.0.1")])
        server._writers[-1].close()  # the end of this body
        assert await connection.read() == b"until the end"
        client.release(connection, URL(server.url))
        assert await _fetch(client, server.url) == (200, b"ok")
        assert server.connections == 2
    client.close()


async def test_bytes_on_an_idle_pooled_connection_close_it():
    client = _client()
    async with CraftedServer([OK]) as server:
        assert await _fetch(client, server.url) == (200, b"ok")
        await server.stray(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged")
        await eventually(
            lambda: (
                not client._idle.get((False, "127.0.0.1", server.port))
                or all(c.closed for c in client._idle[(False, "127.0.0.1", server.port)])
            ),
            timeout=5,
            what="the pooled connection closed",
        )
        assert await _fetch(client, server.url) == (200, b"ok")  # not the forged answer
        assert server.connections == 2
    client.close()


async def test_bytes_after_the_answer_end_its_connection_but_not_the_answer():
    client = _client()
    async with CraftedServer([OK + b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"]) as server:
        assert await _fetch(client, server.url) == (200, b"ok")
        assert await _fetch(client, server.url) == (200, b"ok")
        assert server.connections == 2
    client.close()


async def test_a_body_cut_short_is_a_lost_connection_after_the_answer_began():
    client = _client()
    async with CraftedServer([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"]) as server:
        connection = await send(client, "GET", URL(server.url), "/x", [("Host", "127.0.0.1")])
        server._writers[-1].close()
        with pytest.raises(ConnectionLost) as lost:
            await connection.read()
        assert lost.value.answered
        client.release(connection, URL(server.url))
    client.close()


async def test_a_slow_reader_pauses_the_upstream_instead_of_buffering_it():
    body = b"x" * (8 * HIGH_WATER)
    client = _client()
    async with CraftedServer([b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body]) as server:
        connection = await send(client, "GET", URL(server.url), "/x", [("Host", "127.0.0.1")])
        chunks = connection.chunks()
        received = len(await anext(chunks))
        await eventually(lambda: connection._paused, timeout=5, what="reading paused")
        assert connection._buffered <= HIGH_WATER + 256 * 1024  # one socket read past the mark at most
        async for chunk in chunks:
            received += len(chunk)
        assert received == len(body)
        client.release(connection, URL(server.url))
        assert await _fetch(client, server.url) == (200, b"ok")
        assert server.connections == 1
    client.close()
