"""HTTP/1.1 connections to etcd members, on asyncio streams (plain or TLS), kept alive in a small pool.

Not aiohttp's client: a signer loads no aiohttp (~0.3 s and ~13 MiB of import), and etcd's gateway
needs only POSTs with a JSON body whose answer has a length or is chunked (a watch never ends).
The framing is service_runtime.http1's; a malformed answer is an etcd request error here.
"""

from __future__ import annotations

import asyncio
import ssl
from contextlib import contextmanager
from typing import Iterator, NamedTuple

from service_runtime import http1
from service_runtime.etcd_wire import EtcdError, EtcdRequestError
from service_runtime.http1 import ResponseHead

IDLE_CONNECTIONS = 4  # per member; more concurrent calls open more and close the extra ones after


class Endpoint(NamedTuple):
    host: str  # a name, or an IP literal (IPv6 without brackets)
    port: int

    @property
    def authority(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """``host:port`` or ``[v6]:port``."""
    host, _, port = text.rpartition(":")
    return Endpoint(host.strip("[]"), int(port))


class NotSent(EtcdError):
    """The connection could not be made: the request never left, so any call may go to the next member."""


TRANSPORT_ERRORS = (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, NotSent)


class Connection(http1.Connection):
    """A member's answer that is not HTTP is a request error (code 0), as for any other bad answer."""

    async def exchange(self, request: bytes) -> ResponseHead:
        with _as_request_error():
            return await super().exchange(request)

    async def read_body(self, head: ResponseHead, limit: int | None = None) -> bytes:
        with _as_request_error():
            return await super().read_body(head, limit)

    async def next_chunk(self, room: int | None = None) -> bytes | None:
        with _as_request_error():
            return await super().next_chunk(room)


@contextmanager
def _as_request_error() -> Iterator[None]:
    try:
        yield
    except http1.MalformedAnswer as exc:
        raise EtcdRequestError(0, str(exc)) from None


class Pool:
    """Open and idle connections per member; ``close`` ends them all (a watch's included)."""

    def __init__(self, tls: ssl.SSLContext | None, server_name: str | None):
        self._tls = tls
        self._server_name = server_name
        self._idle: dict[Endpoint, list[Connection]] = {}
        self._open: set[Connection] = set()
        self.closed = False

    async def connect(self, endpoint: Endpoint) -> Connection:
        if self.closed:
            raise EtcdError("the etcd client is closed")
        try:
            reader, writer = await asyncio.open_connection(
                endpoint.host,
                endpoint.port,
                ssl=self._tls,
                server_hostname=(self._server_name or endpoint.host) if self._tls is not None else None,
            )
        except (OSError, ssl.SSLError) as exc:
            raise NotSent(f"{endpoint.authority}: {exc}") from exc
        connection = Connection(reader, writer)
        self._open.add(connection)
        return connection

    async def acquire(self, endpoint: Endpoint) -> tuple[Connection, bool]:
        """A connection to ``endpoint`` and whether it was used before (it may be stale)."""
        idle = self._idle.get(endpoint, [])
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection, True
            self.discard(connection)
        return await self.connect(endpoint), False

    def release(self, endpoint: Endpoint, connection: Connection) -> None:
        idle = self._idle.setdefault(endpoint, [])
        if self.closed or connection.closed or len(idle) >= IDLE_CONNECTIONS:
            self.discard(connection)
        else:
            idle.append(connection)

    def discard(self, connection: Connection) -> None:
        connection.close()
        self._open.discard(connection)

    def close(self) -> None:
        self.closed = True
        for connection in list(self._open):
            self.discard(connection)
        self._idle.clear()


def tls_context(ca_file: str | None, cert_file: str | None, key_file: str | None) -> ssl.SSLContext:
    """Verifying the members' certificates (the file's CA, else the system's), with our client certificate."""
    context = ssl.create_default_context(cafile=ca_file)
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context
