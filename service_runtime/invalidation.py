"""Listening for the session daemon's invalidations, shared by the front door's and signers' caches.

While the subscription is down, messages may be lost, so the caches are told to stop trusting
themselves (``on_reset``) until it is back; every (re)subscription starts from an empty cache.

The caches are bounded: an entry leaves memory at its record's ``expires_at`` (a sweep, plus a check
at every lookup), whether or not anyone asks for it again, and the least recently used entries leave
once there are ``max_entries``.  An entry dropped at its expiry is re-read from Redis if asked for
again, so a session whose expiry was slid elsewhere is re-validated, never trusted on a stale expiry.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import OrderedDict
from typing import Callable, Generic, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from contract.redis_layout import EVENTS_CHANNEL
from service_runtime.background import run_in_background

log = logging.getLogger(__name__)
Record = TypeVar("Record")
# A lookup is on a request's path: during an outage it must fail in about this long, never hang.
LOOKUP_TIMEOUT = 1.0
# Longest pause between resubscription attempts: a signer is Down until it is live again, so this
# bounds how long requests wait for one after Redis is back (a refused connection costs nothing).
RESUBSCRIBE_CAP = 0.5
# The backstop on memory: a held record is ~2 KiB (bench/cache_memory.py), so this caps a cache near
# 200 MiB even if every session were abandoned inside its lifetime.  Evicting a live one costs a Redis read.
MAX_ENTRIES = 100_000
# How often expired entries are swept out of an otherwise idle cache.
SWEEP_INTERVAL = 1.0


class StoreUnavailable(Exception):
    """Redis could not be read: the caller answers 503 (the record may well exist)."""


class InvalidationListener:
    def __init__(self, client: aioredis.Redis, on_session: Callable[[str], None], on_reset: Callable[[bool], None]):
        self._client = client
        self._on_session = on_session
        self._on_reset = on_reset  # called with True when live again, False when it stops being live
        self.live = False

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._listen()
            except (RedisError, OSError) as exc:
                # Once per outage (it was live), not at every reconnection attempt.
                if self.live:
                    log.warning("invalidation channel lost", extra={"event": "redis_unavailable", "error": str(exc)})
            finally:
                if self.live:
                    self.live = False
                    self._on_reset(False)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RESUBSCRIBE_CAP)

    async def _listen(self) -> None:
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(EVENTS_CHANNEL)
            while True:
                message = await pubsub.get_message(timeout=30.0)
                if message is None:
                    await pubsub.ping()
                    continue
                self._handle(message)
        finally:
            await pubsub.aclose()

    def _handle(self, message: dict) -> None:
        if message["type"] == "subscribe":
            self._on_reset(True)
            self.live = True
            return
        if message["type"] != "message":
            return
        data = message["data"]
        text = data.decode() if isinstance(data, bytes) else str(data)
        kind, _, digest = text.partition(" ")
        if kind == "session" and digest:
            self._on_session(digest)
        elif kind == "flush":
            self._on_reset(True)


class InvalidatedRecords(Generic[Record]):
    """Per-session records read from Redis once, then served from memory until the session daemon
    invalidates them, they expire, they are the least recently used of ``max_entries``, or the
    invalidation channel is down (then memory is bypassed).

    Shared by the front door (public session records) and the signers (encrypted keypairs).
    ``parse(digest, raw)`` turns a stored value into a record with an ``expires_at``; it raises
    ValueError for a value it cannot trust.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        redis_key: Callable[[str], str],
        parse: Callable[[str, bytes], Record],
        lookup_timeout: float = LOOKUP_TIMEOUT,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.time,
    ):
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._client = client
        self._lookup_timeout = lookup_timeout
        self._redis_key = redis_key
        self._parse = parse
        self._max_entries = max_entries
        self._clock = clock
        self._records: OrderedDict[str, Record] = OrderedDict()  # least recently used first
        self._expiry: list[tuple[float, str]] = []  # heap of (expires_at, digest); may hold stale pairs
        self._forget_hooks: list[Callable[[str], None]] = []
        self.listener = InvalidationListener(client, self._forget, lambda _live: self.clear())
        self._failing = False  # one warning per outage, not one per request

    def __len__(self) -> int:
        return len(self._records)

    def set_lookup_timeout(self, seconds: float) -> None:
        """A reload's value, for the next read (the timeout is copied from a setting at start)."""
        self._lookup_timeout = seconds

    def on_forget(self, hook: Callable[[str], None]) -> None:
        """Called with the session hash whenever the daemon ends a session."""
        self._forget_hooks.append(hook)

    async def run(self) -> None:
        """Follow invalidations and sweep out expired entries, until cancelled."""
        sweeping = run_in_background(self._sweep_forever(), "expired entries sweep")
        try:
            await self.listener.run()
        finally:
            sweeping.cancel()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            self.sweep()

    def cached(self, digest: str) -> Record | None:
        """The record if memory can vouch for it (invalidations live, not expired); else None."""
        record = self._records.get(digest)
        if record is None or not self.listener.live:
            return None
        if self._clock() >= record.expires_at:
            del self._records[digest]  # re-read from Redis if asked again: its expiry may have slid
            return None
        self._records.move_to_end(digest)
        return record

    async def load(self, digest: str) -> Record | None:
        """The record of a live session, or None if it is unknown, expired, revoked or unreadable."""
        record = self.cached(digest)
        if record is not None:
            return record
        raw = await self._read(digest)
        if raw is None:
            self._records.pop(digest, None)
            return None
        try:
            record = self._parse(digest, raw)
        except ValueError:
            log.warning("unreadable record in Redis", extra={"event": "bad_session_record"})
            return None
        if self._clock() >= record.expires_at:
            return None
        if self.listener.live:
            self._remember(digest, record)
        return record

    def _remember(self, digest: str, record: Record) -> None:
        self._records[digest] = record
        self._records.move_to_end(digest)
        heapq.heappush(self._expiry, (record.expires_at, digest))
        while len(self._records) > self._max_entries:
            self._records.popitem(last=False)
        self.sweep()
        if len(self._expiry) > 2 * len(self._records) + 64:  # stale pairs of evicted/reloaded entries
            self._expiry = [(kept.expires_at, key) for key, kept in self._records.items()]
            heapq.heapify(self._expiry)

    def sweep(self) -> int:
        """Drop every entry whose record has expired; returns how many left."""
        now = self._clock()
        dropped = 0
        while self._expiry and self._expiry[0][0] <= now:
            _, digest = heapq.heappop(self._expiry)
            record = self._records.get(digest)
            if record is None:
                continue
            if record.expires_at > now:  # slid since it was pushed (a touch): keep until the new expiry
                heapq.heappush(self._expiry, (record.expires_at, digest))
                continue
            del self._records[digest]
            dropped += 1
        return dropped

    def clear(self) -> None:
        self._records.clear()
        self._expiry.clear()

    async def _read(self, digest: str) -> bytes | None:
        try:
            async with asyncio.timeout(self._lookup_timeout):
                raw = await self._client.get(self._redis_key(digest))
        except (RedisError, OSError, TimeoutError) as exc:
            if not self._failing:
                self._failing = True
                log.warning(
                    "session store unavailable; answering 503",
                    extra={"event": "redis_unavailable", "error": type(exc).__name__},
                )
            raise StoreUnavailable() from None
        if self._failing:
            self._failing = False
            log.info("session store available again", extra={"event": "redis_available"})
        return raw

    def _forget(self, digest: str) -> None:
        self._records.pop(digest, None)
        for hook in self._forget_hooks:
            hook(digest)
