"""Is aiohttp's client the floor of the upstream hop?  aiohttp vs a bare asyncio-protocol client.

Both clients send the same keep-alive ``GET /auth?echo=bench`` with the headers the front door sends
upstream (``frontdoor.upstream.upstream_headers``: ~12 of them) to the same small-JSON upstream
(aiohttp + uvloop, in its own process), read the whole answer and its headers, and are driven by
``--concurrency`` tasks over a pool of that many connections.  Printed per client: requests/s and the
client process's CPU per request (user + system), best of ``--runs``.

- aiohttp: one ``ClientSession`` set up as the front door's (``frontdoor.app._http_client``: a
  ``TCPConnector`` with keep-alive, no decompression, a dummy cookie jar), ``request()`` + ``read()``.
- lean: ``frontdoor.lean_client.LeanClient`` as the front door builds it (a kept-alive pool, llhttp
  parsing every answer strictly), ``fields_wire()`` + ``send_wire()`` + ``read()`` + ``release()`` as the
  proxy calls them.
- bare: an ``asyncio.Protocol`` per connection that writes the request in one ``write`` and parses the
  status line, the headers and a ``Content-Length`` body (no chunked bodies, no streaming: the lower
  bound of what a lean client for the Manager's needs would cost, not a finished client).

Usage: .venv/bin/python bench/upstream_client.py [--requests 20000] [--concurrency 1,16] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import socket
import time

import aiohttp
import uvloop
from aiohttp import web
from yarl import URL

from frontdoor.lean_client import LeanClient, endpoint_of, fields_wire
from service_runtime.http1 import client_tls

BODY = json.dumps({"authorized": "yes", "echo": "bench"}).encode()
HEADERS = {
    "Accept": "*/*",
    "Host": "127.0.0.1",
    "User-Agent": "webui-host/0.1 (Backend.AI Web Server compatible)",
    "X-BackendAI-Version": "v7.20230615",
    "X-BackendAI-Domain": "default",
    "X-Forwarded-For": "127.0.0.1",
    "X-Forwarded-Host": "127.0.0.1:8080",
    "X-Forwarded-Proto": "http",
    "X-Request-ID": "0123456789abcdef",
    "Date": "2026-11-29T14:00:00.000000+00:00",
    "Authorization": "BackendAI signMethod=HMAC-SHA256, credential=AKIAIOSFODNN7EXAMPLE:" + "0" * 64,
}
TARGET = "/auth?echo=bench"


def serve(port: int) -> None:
    async def answer(_request: web.Request) -> web.Response:
        return web.Response(body=BODY, content_type="application/json")

    app = web.Application()
    app.router.add_get("/auth", answer)
    web.run_app(app, host="127.0.0.1", port=port, loop=uvloop.new_event_loop(), access_log=None, print=None)


class BareConnection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future | None = None
        self._head: tuple[int, list[tuple[bytes, bytes]], int] | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self._buffer[:end]).split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            headers = [tuple(line.split(b":", 1)) for line in lines[1:]]
            length = next((int(v) for k, v in headers if k.lower() == b"content-length"), 0)
            self._head = (status, headers, length)
            del self._buffer[: end + 4]
        status, headers, length = self._head
        if len(self._buffer) >= length:
            body = bytes(self._buffer[:length])
            del self._buffer[:length]
            self._head = None
            self._waiter.set_result((status, headers, body))

    def connection_lost(self, exc) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError("closed"))

    async def request(self, request_bytes: bytes):
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request_bytes)
        return await self._waiter


def request_bytes(port: int) -> bytes:
    lines = [f"GET {TARGET} HTTP/1.1"] + [
        f"{name}: {value if name != 'Host' else f'127.0.0.1:{port}'}" for name, value in HEADERS.items()
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def bare_client(port: int, requests: int, concurrency: int) -> None:
    loop = asyncio.get_running_loop()
    wire = request_bytes(port)
    connections = [(await loop.create_connection(BareConnection, "127.0.0.1", port))[1] for _ in range(concurrency)]

    async def worker(connection: BareConnection, count: int) -> None:
        for _ in range(count):
            status, _headers, body = await connection.request(wire)
            assert status == 200 and body == BODY

    await asyncio.gather(*(worker(c, requests // concurrency) for c in connections))
    for connection in connections:
        connection.transport.close()


async def aiohttp_client(port: int, requests: int, concurrency: int) -> None:
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=concurrency, keepalive_timeout=30),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=5),
        auto_decompress=False,
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    url = f"http://127.0.0.1:{port}{TARGET}"
    headers = dict(HEADERS, Host=f"127.0.0.1:{port}")

    async def worker(count: int) -> None:
        for _ in range(count):
            response = await session.request(
                "GET", url, headers=headers, allow_redirects=False, skip_auto_headers=("Accept-Encoding", "Accept")
            )
            try:
                body = await response.read()
            finally:
                response.release()
            assert response.status == 200 and body == BODY

    await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
    await session.close()


async def lean_client(port: int, requests: int, concurrency: int) -> None:
    client = LeanClient(limit=concurrency, tls=client_tls(True), connect_timeout=lambda: 5.0)
    endpoint = endpoint_of(URL(f"http://127.0.0.1:{port}{TARGET}"))
    fields = {name.lower(): (name, value) for name, value in dict(HEADERS, Host=f"127.0.0.1:{port}").items()}

    async def worker(count: int) -> None:
        for _ in range(count):  # the request's bytes made for each request, as the proxy makes them
            connection = await client.send_wire(endpoint, "GET", fields_wire("GET", TARGET, dict(fields)))
            try:
                body = await connection.read()
            finally:
                client.release(connection, endpoint)
            assert connection.status == 200 and body == BODY

    await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
    client.close()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(client, port: int, requests: int, concurrency: int) -> tuple[float, float]:
    """(requests/s, CPU microseconds per request) of one run."""
    uvloop.run(client(port, min(requests, 2000), concurrency))  # warm-up
    cpu, wall = cpu_seconds(), time.perf_counter()
    uvloop.run(client(port, requests, concurrency))
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return requests / wall, cpu * 1e6 / requests


CLIENTS = (("aiohttp", aiohttp_client), ("lean (frontdoor.lean_client)", lean_client), ("bare protocol", bare_client))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", default="1,16")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    upstream = multiprocessing.Process(target=serve, args=(port,), daemon=True)
    upstream.start()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    try:
        print("| client | concurrency | req/s (best) | client CPU us/request (best) |")
        print("|---|---|---|---|")
        for concurrency in (int(c) for c in args.concurrency.split(",")):
            for name, client in CLIENTS:
                runs = [measure(client, port, args.requests, concurrency) for _ in range(args.runs)]
                print(
                    f"| {name} | {concurrency} | {max(r[0] for r in runs):,.0f} | {min(r[1] for r in runs):.0f} |",
                    flush=True,
                )
    finally:
        upstream.terminate()
        upstream.join()


if __name__ == "__main__":
    main()
