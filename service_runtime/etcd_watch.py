"""A watch of a key range over etcd's gateway: a POST to ``/v3/watch`` whose answer never ends, one
JSON line per batch of events.

The watch survives the loss of its member: it opens again on the next member from the revision after
the last event it delivered, so no event is missed or repeated.  A member that stops answering
(frozen, or cut off) looks like a quiet watch, so after ``watch_idle`` seconds without a line the
watch asks the same member for one key of the range: no answer within the client's timeout counts as
the member lost.  If etcd compacted away the revisions to resume from, ``EtcdCompacted`` is raised
and the caller reads the range again.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import AsyncIterator, Protocol

from service_runtime.etcd_http import TRANSPORT_ERRORS, Connection, Endpoint, Pool
from service_runtime.etcd_wire import (
    INVALID_TOKEN_CODE,
    EtcdCompacted,
    EtcdError,
    EtcdRequestError,
    EtcdUnavailable,
    Event,
    LineSplitter,
    WatchMessage,
    error_of,
    http_request,
    parse_watch_line,
    range_request,
    watch_create_request,
)


class Client(Protocol):
    """What a watch uses of ``service_runtime.etcd.EtcdClient``."""

    endpoints: list[Endpoint]
    timeout: float
    watch_idle: float
    pool: Pool

    @property
    def current(self) -> Endpoint: ...
    def fail_over(self, failed: Endpoint) -> None: ...
    async def call_member(self, endpoint: Endpoint, path: str, body: dict) -> dict: ...
    async def token(self, endpoint: Endpoint) -> str | None: ...
    def forget_token(self, endpoint: Endpoint) -> None: ...


class PrefixWatch:
    def __init__(self, client: Client, key: bytes, range_end: bytes, start_revision: int):
        self._client = client
        self._key = key
        self._range_end = range_end
        self.next_revision = start_revision  # the first revision not yet delivered
        self._connection: Connection | None = None
        self._canceled = False

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def cancel(self) -> None:
        """End the watch: the iteration stops."""
        self._canceled = True
        if self._connection is not None:
            self._client.pool.discard(self._connection)

    async def _events(self) -> AsyncIterator[Event]:
        failures: list[str] = []
        while not self._canceled:
            endpoint = self._client.current
            try:
                async with aclosing(self._messages(endpoint)) as messages:
                    async for message in messages:
                        failures.clear()  # the watch is on: a later loss may try every member again
                        for event in message.events:
                            self.next_revision = event.kv.mod_revision + 1
                            yield event
            except TRANSPORT_ERRORS as exc:
                if self._canceled:
                    return
                failures.append(f"{endpoint.authority}: {exc!r}")
                self._client.fail_over(endpoint)
                if len(failures) >= len(self._client.endpoints):
                    raise EtcdUnavailable("the watch lost every etcd member: " + "; ".join(failures)) from exc

    async def _messages(self, endpoint: Endpoint) -> AsyncIterator[WatchMessage]:
        """The watch's lines from one member until it fails (a transport error) or is canceled."""
        async with asyncio.timeout(self._client.timeout):
            connection, splitter, first = await self._open(endpoint)
        read: asyncio.Future | None = None
        try:
            if self._canceled:  # canceled while the watch was being opened
                return
            for message in first:  # "created" (and whatever came with it)
                yield message
            while True:
                read = asyncio.ensure_future(connection.next_chunk())
                done, _ = await asyncio.wait({read}, timeout=self._client.watch_idle)
                while not done:  # quiet: is the member still there?
                    await self._probe(endpoint)
                    done, _ = await asyncio.wait({read}, timeout=self._client.watch_idle)
                chunk = read.result()
                if chunk is None:
                    raise ConnectionError("the watch answer ended")
                for line in splitter.feed(chunk):
                    yield _checked(parse_watch_line(line))
        finally:
            if read is not None:
                read.cancel()
            self._client.pool.discard(connection)
            self._connection = None

    async def _open(self, endpoint: Endpoint) -> tuple[Connection, LineSplitter, list[WatchMessage]]:
        """The watch created on ``endpoint`` (a rejected token is renewed once)."""
        body = watch_create_request(self._key, self._range_end, self.next_revision)
        for attempt in (1, 2):
            token = await self._client.token(endpoint)
            connection = await self._client.pool.connect(endpoint)
            self._connection = connection
            try:
                head = await connection.exchange(http_request(endpoint.authority, "/v3/watch", body, token))
                if head.status != 200:
                    raise error_of(head.status, await connection.read_body(head))
                splitter = LineSplitter()
                lines: list[bytes] = []
                while not lines:  # the first line says whether the watch was created
                    chunk = await connection.next_chunk()
                    if chunk is None:
                        raise ConnectionError("the watch answer ended before the watch was created")
                    lines = splitter.feed(chunk)
                return connection, splitter, [_checked(parse_watch_line(line)) for line in lines]
            except EtcdRequestError as error:
                self._client.pool.discard(connection)
                if error.code != INVALID_TOKEN_CODE or attempt == 2:
                    raise
                self._client.forget_token(endpoint)
            except BaseException:
                self._client.pool.discard(connection)
                raise
        raise AssertionError("unreachable")

    async def _probe(self, endpoint: Endpoint) -> None:
        """One key of the watched range read from the watch's member, within the client's timeout."""
        probe = range_request(self._key, self._range_end, limit=1, keys_only=True)
        try:
            await self._client.call_member(endpoint, "/v3/kv/range", probe)
        except EtcdError as exc:
            raise ConnectionError(f"the watch's member failed a read: {exc}") from exc


def _checked(message: WatchMessage) -> WatchMessage:
    if message.canceled:
        if message.compact_revision:
            raise EtcdCompacted(message.compact_revision)
        raise EtcdRequestError(0, f"etcd canceled the watch: {message.cancel_reason or 'no reason given'}")
    return message
