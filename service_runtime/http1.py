"""HTTP/1.1 client framing on asyncio streams, for the clients that do without aiohttp's: etcd's gateway
(kept-alive connections, watch streams) and the session daemon's Manager calls (one request per connection).

aiohttp's client costs a process ~9-13 MiB and ~0.2 s of imports; these callers need only POSTs whose answer
has a length, is chunked, or ends when the peer closes.  A caller may bound an answer's size: a hostile or
broken peer then gets an ``AnswerTooLarge`` instead of our memory.
"""

from __future__ import annotations

import asyncio
import ssl
import zlib
from collections.abc import Iterable
from typing import NamedTuple
from urllib.parse import urlsplit

MAX_TRAILER_LINES = 64  # a bounded body's trailers: a peer must not keep us reading them forever


class MalformedAnswer(Exception):
    """The peer's bytes are not an HTTP/1.1 answer (a bad status line, chunk size or content coding)."""


class AnswerTooLarge(Exception):
    """The answer is longer than the caller accepts; it is not read further."""


class NotConnected(Exception):
    """No connection could be made (refused, unresolvable, TLS refused): the request never left."""


class ConnectTimeout(NotConnected):
    """Connecting (TLS handshake included) took longer than allowed: the request never left either."""


class ConnectionLost(Exception):
    """The peer closed or reset the connection before the end of its answer."""


class ResponseHead(NamedTuple):
    status: int
    headers: dict[str, str]  # names in lower case
    reason: str = ""

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    @property
    def length(self) -> int | None:
        value = self.headers.get("content-length")
        if value is None:
            return None
        if not (value.isascii() and value.isdigit()):
            raise MalformedAnswer(f"bad Content-Length {value[:40]!r}")
        return int(value)

    @property
    def keeps_alive(self) -> bool:
        return self.headers.get("connection", "").lower() != "close" and (self.chunked or self.length is not None)

    @property
    def informational(self) -> bool:
        """A 1xx head: the real answer follows it."""
        return 100 <= self.status < 200

    @property
    def bodiless(self) -> bool:
        return self.status in (204, 304)


def parse_head(raw: bytes) -> ResponseHead:
    """The status line and headers of an answer (``raw`` up to and without the blank line)."""
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise MalformedAnswer(f"not an HTTP answer: {lines[0][:100]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return ResponseHead(int(parts[1]), headers, parts[2].strip() if len(parts) == 3 else "")


def chunk_size(line: bytes) -> int:
    """The size on a chunked body's size line (extensions after ``;`` ignored)."""
    try:
        return int(line.split(b";", 1)[0].strip(), 16)
    except ValueError:
        raise MalformedAnswer(f"bad chunk size line {line[:40]!r}") from None


def check_size(size: int, room: int | None) -> None:
    if room is not None and size > room:
        raise AnswerTooLarge(f"the answer is longer than {room} more bytes")


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader = reader
        self._writer = writer
        self._chunk_left = 0  # bytes of the current chunk still to read (a watch's chunks)

    async def exchange(self, request: bytes) -> ResponseHead:
        """Send a request, return the head of its answer (EOF before it raises IncompleteReadError)."""
        self._writer.write(request)
        await self._writer.drain()
        return await self.read_head()

    async def read_head(self) -> ResponseHead:
        """The next head (its size is bounded by the reader's limit: LimitOverrunError past it)."""
        return parse_head((await self._reader.readuntil(b"\r\n\r\n"))[:-4])

    async def read_body(self, head: ResponseHead, limit: int | None = None) -> bytes:
        """The whole body, of at most ``limit`` bytes when given (AnswerTooLarge past it)."""
        if head.chunked:
            parts: list[bytes] = []
            size = 0
            while (chunk := await self.next_chunk(None if limit is None else limit - size)) is not None:
                parts.append(chunk)
                size += len(chunk)
            return b"".join(parts)
        if head.length is not None:
            check_size(head.length, limit)
            return await self._reader.readexactly(head.length)
        return await self._read_to_eof(limit)

    async def _read_to_eof(self, limit: int | None) -> bytes:
        if limit is None:
            return await self._reader.read()  # until the peer closes
        parts: list[bytes] = []
        size = 0
        while data := await self._reader.read(65536):
            size += len(data)
            check_size(size, limit)
            parts.append(data)
        return b"".join(parts)

    async def next_chunk(self, room: int | None = None) -> bytes | None:
        """The next chunk of a chunked body, None at its end; safe to cancel while waiting.  With ``room``,
        a chunk longer than it is refused before it is read, and so are endless trailers."""
        if self._chunk_left == 0:
            line = await self._reader.readline()
            if not line:
                raise asyncio.IncompleteReadError(b"", None)  # the peer went away
            size = chunk_size(line)
            if size == 0:
                await self._skip_trailers(bounded=room is not None)
                return None
            check_size(size, room)
            self._chunk_left = size + 2  # with the CRLF after the data
        data = await self._reader.readexactly(self._chunk_left)
        self._chunk_left = 0
        return data[:-2]

    async def _skip_trailers(self, bounded: bool) -> None:
        lines = 0
        while (await self._reader.readline()) not in (b"\r\n", b""):
            lines += 1
            if bounded and lines > MAX_TRAILER_LINES:
                raise AnswerTooLarge(f"more than {MAX_TRAILER_LINES} trailer lines")

    def close(self) -> None:
        self._writer.close()

    @property
    def closed(self) -> bool:
        return self._writer.is_closing() or self._reader.at_eof()


def decoded(body: bytes, content_encoding: str, limit: int) -> bytes:
    """A gzip or deflate body decoded (at most ``limit`` bytes: a small body may inflate enormously)."""
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in ("gzip", "x-gzip", "deflate"):
        raise MalformedAnswer(f"unknown content coding {coding[:40]!r}")
    # gzip's header, else zlib's; a "deflate" answer may also be raw deflate (as aiohttp accepts).
    for wbits in (16 + zlib.MAX_WBITS,) if coding != "deflate" else (zlib.MAX_WBITS, -zlib.MAX_WBITS):
        inflater = zlib.decompressobj(wbits=wbits)
        try:
            data = inflater.decompress(body, limit + 1)
        except zlib.error:
            continue
        check_size(len(data), limit)
        if not inflater.eof:
            raise MalformedAnswer(f"a {coding} body cut short")
        return data
    raise MalformedAnswer(f"a {coding} body that does not inflate")


def client_tls(verify: bool) -> ssl.SSLContext:
    """The TLS context of an ``https`` peer: the system's trust store and name checks, or none of them
    (``[api] ssl_verify = false``); as aiohttp built them for ``ssl=True`` / ``ssl=False``."""
    if verify:
        context = ssl.create_default_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.options |= ssl.OP_NO_SSLv2 | ssl.OP_NO_SSLv3 | ssl.OP_NO_COMPRESSION
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_default_verify_paths()
    context.set_alpn_protocols(["http/1.1"])
    return context


# --- one request on a connection of its own ---------------------------------------------------------


class Target(NamedTuple):
    """Where a URL's request goes: ``host`` without brackets, ``authority`` as the Host header."""

    tls: bool
    host: str
    port: int
    authority: str
    path: str  # with the query


def target_of(url: str) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    tls = parts.scheme == "https"
    host = parts.hostname if parts.hostname.isascii() else parts.hostname.encode("idna").decode("ascii")
    port = parts.port or (443 if tls else 80)
    shown = f"[{host}]" if ":" in host else host
    authority = shown if port == (443 if tls else 80) else f"{shown}:{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(tls, host, port, authority, path)


def request_bytes(method: str, authority: str, path: str, headers: Iterable[tuple[str, str]], body: bytes) -> bytes:
    """The request's bytes: Host (``authority``) first, then ``headers`` in their order; a line break
    or NUL in any of them is refused (ValueError) rather than written."""
    # ``": ".join`` of each pair: a C call where an f-string per line cost ~4x (the proxy's hot path).
    lines = list(map(": ".join, headers))
    block = "\r\n".join([f"Host: {authority}", *lines])
    # One count over the whole block: each separator adds one CR and one LF, so any other is inside a
    # name or value.
    separators = len(lines)
    if block.count("\r") != separators or block.count("\n") != separators or "\0" in block:
        raise ValueError("a line break or NUL in a header")
    return f"{method} {path} HTTP/1.1\r\n{block}\r\n\r\n".encode() + body


class Answer(NamedTuple):
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes  # decoded from gzip or deflate


async def exchange_once(
    target: Target, request: bytes, *, tls: ssl.SSLContext | None, connect_timeout: float, limit: int
) -> Answer:
    """``request`` sent on a new connection, closed after the answer.  NotConnected (ConnectTimeout): it never
    left; after that, ConnectionLost, MalformedAnswer or AnswerTooLarge (the caller bounds the whole call)."""
    if target.tls and tls is None:
        raise ValueError("an https target needs a TLS context")  # never the request in clear text
    connection = await _connect(target, tls if target.tls else None, connect_timeout)
    try:
        head = await connection.exchange(request)
        while head.informational:
            head = await connection.read_head()
        body = b"" if head.bodiless else await connection.read_body(head, limit)
        return Answer(
            head.status, head.reason, head.headers, decoded(body, head.headers.get("content-encoding", ""), limit)
        )
    except (asyncio.IncompleteReadError, OSError) as exc:  # closed, reset, or TLS broken mid-way
        raise ConnectionLost(f"{type(exc).__name__}: {exc}") from exc
    except (asyncio.LimitOverrunError, ValueError) as exc:  # a head or a chunk size line past the reader's limit
        raise AnswerTooLarge(f"a line of the answer is too long: {exc}") from exc
    finally:
        connection.close()


async def _connect(target: Target, tls: ssl.SSLContext | None, timeout: float) -> Connection:
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            reader, writer = await asyncio.open_connection(
                target.host,
                target.port,
                ssl=tls,
                server_hostname=target.host if tls is not None else None,
            )  # addresses in turn: uvloop's create_connection has no happy_eyeballs_delay
    except TimeoutError:
        if deadline.expired():
            raise ConnectTimeout(f"{target.authority}: no connection within {timeout} s") from None
        raise
    except OSError as exc:  # ssl.SSLError (a refused certificate) is one
        raise NotConnected(f"{target.authority}: {exc}") from exc
    return Connection(reader, writer)
