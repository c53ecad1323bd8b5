"""HTTP/1.1 connections to etcd members, on asyncio streams (plain or TLS), kept alive in a small pool.

Not aiohttp's client: a signer loads no aiohttp (~0.3 s and ~13 MiB of import), and etcd's gateway
needs only POSTs with a JSON body whose answer has a length or is chunked (a watch never ends).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import NamedTuple

from service_runtime.etcd_wire import EtcdError, ResponseHead, chunk_size, parse_head

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


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader = reader
        self._writer = writer
        self._chunk_left = 0  # bytes of the current chunk still to read (a watch's chunks)

    async def exchange(self, request: bytes) -> ResponseHead:
        """Send a request, return the head of its answer (EOF before it raises IncompleteReadError)."""
        self._writer.write(request)
        await self._writer.drain()
        return parse_head((await self._reader.readuntil(b"\r\n\r\n"))[:-4])

    async def read_body(self, head: ResponseHead) -> bytes:
        if head.chunked:
            parts = []
            while (chunk := await self.next_chunk()) is not None:
                parts.append(chunk)
            return b"".join(parts)
        if head.length is not None:
            return await self._reader.readexactly(head.length)
        return await self._reader.read()  # until the member closes

    async def next_chunk(self) -> bytes | None:
        """The next chunk of a chunked body, None at its end; safe to cancel while waiting."""
        if self._chunk_left == 0:
            line = await self._reader.readline()
            if not line:
                raise asyncio.IncompleteReadError(b"", None)  # the member went away
            size = chunk_size(line)
            if size == 0:
                while (await self._reader.readline()) not in (b"\r\n", b""):
                    pass  # trailers
                return None
            self._chunk_left = size + 2  # with the CRLF after the data
        data = await self._reader.readexactly(self._chunk_left)
        self._chunk_left = 0
        return data[:-2]

    def close(self) -> None:
        self._writer.close()

    @property
    def closed(self) -> bool:
        return self._writer.is_closing() or self._reader.at_eof()


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
