"""One conformance suite over both invalidated-record caches: the front door's session reader and the
signer's key cache, each against a real redis-server with its own ACL user (as oauth2-proxy runs one
suite over every session store).

What both promise: a record is read from Redis once and then served from memory; the daemon's
invalidation (pub/sub) takes it out of memory; it leaves memory at its expiry without anyone asking
(and is re-validated from Redis if asked again); at most ``max_entries`` are held (least recently used
leave first); with Redis down a lookup fails fast with StoreUnavailable, never from a stale memory.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Callable

import pytest
import redis.asyncio as aioredis

from contract.host_layout import redis_password_file
from contract.redis_layout import (
    EVENTS_CHANNEL,
    SecretBox,
    SecretRecord,
    SessionRecord,
    invalidation_message,
    secret_key,
    session_hash,
    session_key,
)
from frontdoor.sessions import SessionReader
from service_runtime import invalidation
from service_runtime.invalidation import StoreUnavailable
from service_runtime.keyfiles import ensure_secrets
from signer_worker.key_cache import SecretCache
from signer_worker.signing import Keypair, signed_headers
from tests.support.polling import eventually
from tests.support.servers import RedisHandle, start_redis

BOX = SecretBox(bytes(range(32)))


def _client(handle: RedisHandle, role: str) -> aioredis.Redis:
    password = redis_password_file(handle.secrets_dir, role).read_text().strip()
    return aioredis.Redis(port=handle.port, username=role, password=password, socket_connect_timeout=1.0)


@dataclass
class Subject:
    """One cache under test, seen through what both caches have in common."""

    name: str
    cache: Any
    store: Callable[[str, float], str]  # (session id, expires_at) -> the value written to Redis
    key: Callable[[str], str]  # session id -> its Redis key
    lookup: Callable[[str], Any]  # session id -> awaitable record or None
    cached: Callable[[str], Any]


def _front_door(client: aioredis.Redis, max_entries: int) -> Subject:
    async def touch(_session_id: str):
        raise AssertionError("not touched in this suite")

    reader = SessionReader(client, 60.0, touch, max_entries=max_entries)

    def value(session_id: str, expires_at: float) -> str:
        now = time.time()
        return SessionRecord(
            user_id="u@example.com",
            access_key="AKIA" + session_id[:8],
            role="user",
            status="active",
            created_at=now,
            last_accessed=now,
            expires_at=expires_at,
        ).to_json()

    async def lookup(session_id: str):  # as FrontDoor.session reads: memory without a coroutine, else load
        digest = session_hash(session_id)
        record = reader.cached_of(session_id, digest)
        return record if record is not None else await reader.load(session_id, digest)

    return Subject("frontdoor", reader, value, lambda sid: session_key(session_hash(sid)), lookup, reader.cached)


def _signer(client: aioredis.Redis, max_entries: int) -> Subject:
    cache = SecretCache(client, BOX, 1.0, max_entries=max_entries)

    def value(session_id: str, expires_at: float) -> str:
        record = SecretRecord(
            access_key="AKIA" + session_id[:8],
            secret_key="s" * 40,
            role="user",
            expires_at=expires_at,
            user_id="u@example.com",
        )
        return BOX.seal(session_hash(session_id), record)

    return Subject("signer", cache, value, lambda sid: secret_key(session_hash(sid)), cache.lookup, cache.cached)


SUBJECTS = {"frontdoor": (_front_door, "frontdoor"), "signer": (_signer, "signer")}


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory):
    secrets_dir = tmp_path_factory.mktemp("secrets") / "secrets"
    ensure_secrets(secrets_dir)
    handle = start_redis(tmp_path_factory.mktemp("redis"), secrets_dir)
    yield handle
    handle.stop()


@pytest.fixture(params=sorted(SUBJECTS))
def kind(request) -> str:
    return request.param


class Harness:
    def __init__(self, handle: RedisHandle, kind: str):
        self.handle = handle
        self.kind = kind
        self.admin = _client(handle, "admin")
        self._clients: list[aioredis.Redis] = []
        self._tasks: list[asyncio.Task] = []

    async def subject(self, max_entries: int = 1000) -> Subject:
        make, role = SUBJECTS[self.kind]
        client = _client(self.handle, role)
        self._clients.append(client)
        subject = make(client, max_entries)
        self._tasks.append(asyncio.create_task(subject.cache.run()))
        await eventually(lambda: subject.cache.listener.live, timeout=10, what="invalidations live")
        return subject

    async def write(self, subject: Subject, session_id: str, expires_at: float) -> None:
        await self.admin.set(subject.key(session_id), subject.store(session_id, expires_at))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in (*self._clients, self.admin):
            await client.aclose()


@pytest.fixture
async def harness(redis_server, kind):
    harness = Harness(redis_server, kind)
    yield harness
    await harness.close()


def _sid() -> str:
    return os.urandom(16).hex()


async def test_load_reads_redis_once_then_serves_from_memory(harness):
    subject = await harness.subject()
    sid = _sid()
    assert await subject.lookup(sid) is None  # unknown
    await harness.write(subject, sid, time.time() + 60)
    record = await subject.lookup(sid)
    assert record is not None and record.access_key == "AKIA" + sid[:8]
    await harness.admin.delete(subject.key(sid))  # memory vouches for it now: no second read
    assert subject.cached(sid) is record
    assert await subject.lookup(sid) is record
    assert len(subject.cache) == 1


async def test_invalidation_by_pubsub_takes_the_record_out_of_memory(harness):
    subject = await harness.subject()
    sid = _sid()
    await harness.write(subject, sid, time.time() + 60)
    assert await subject.lookup(sid) is not None
    await harness.admin.delete(subject.key(sid))
    await harness.admin.publish(EVENTS_CHANNEL, invalidation_message(session_hash(sid)))
    await eventually(lambda: subject.cached(sid) is None, timeout=10, what="invalidated")
    assert await subject.lookup(sid) is None
    assert len(subject.cache) == 0


async def test_expired_record_leaves_memory_without_an_invalidation(harness, monkeypatch):
    monkeypatch.setattr(invalidation, "SWEEP_INTERVAL", 0.05)
    subject = await harness.subject()
    sid = _sid()
    await harness.write(subject, sid, time.time() + 0.5)
    assert await subject.lookup(sid) is not None
    assert len(subject.cache) == 1
    # Nobody asks for it again and nothing is published: the sweep alone must drop it.
    await eventually(lambda: len(subject.cache) == 0, timeout=5, what="expired record swept out")


async def test_at_expiry_the_record_is_revalidated_from_redis(harness):
    """A session slid elsewhere (another worker's touch) is not lost: memory's stale expiry sends
    the lookup back to Redis, which holds the new one."""
    subject = await harness.subject()
    sid = _sid()
    await harness.write(subject, sid, time.time() + 0.4)
    first = await subject.lookup(sid)
    await harness.write(subject, sid, time.time() + 60)  # the daemon slid it
    await eventually(lambda: time.time() >= first.expires_at, timeout=5, what="first expiry passed")
    assert subject.cached(sid) is None
    second = await subject.lookup(sid)
    assert second is not None and second.expires_at > first.expires_at
    assert subject.cached(sid) is second


async def test_size_bound_evicts_the_least_recently_used(harness):
    subject = await harness.subject(max_entries=5)
    sids = [_sid() for _ in range(8)]
    for sid in sids:
        await harness.write(subject, sid, time.time() + 60)
    for sid in sids[:5]:
        assert await subject.lookup(sid) is not None
    assert await subject.lookup(sids[0]) is not None  # used again: now the most recent
    for sid in sids[5:]:
        assert await subject.lookup(sid) is not None
        assert len(subject.cache) <= 5
    assert len(subject.cache) == 5
    assert subject.cached(sids[0]) is not None
    assert all(subject.cached(sid) is None for sid in sids[1:4])
    # An evicted record is still a live session: it is read again from Redis.
    assert await subject.lookup(sids[1]) is not None


async def test_redis_down_fails_fast_and_never_serves_from_memory(kind, tmp_path):
    secrets_dir = tmp_path / "secrets"
    ensure_secrets(secrets_dir)
    handle = start_redis(tmp_path, secrets_dir)
    harness = Harness(handle, kind)
    try:
        subject = await harness.subject()
        sid = _sid()
        await harness.write(subject, sid, time.time() + 60)
        assert await subject.lookup(sid) is not None
        handle.stop()
        # Invalidations may be lost while the channel is down: memory stops vouching at once.
        await eventually(lambda: not subject.cache.listener.live, timeout=10, what="channel down")
        assert subject.cached(sid) is None
        assert len(subject.cache) == 0
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await subject.lookup(sid)
        assert time.monotonic() - started < 3.0
    finally:
        handle.stop()
        await harness.close()


def test_a_cache_must_hold_at_least_one_entry():
    with pytest.raises(ValueError):
        invalidation.InvalidatedRecords(None, session_key, lambda _d, raw: raw, max_entries=0)


async def test_front_door_touch_keeps_a_live_session_in_memory(redis_server):
    """The front door slides expiry in place after the daemon's touch: the sweep must keep it."""
    harness = Harness(redis_server, "frontdoor")
    try:
        subject = await harness.subject()
        sid = _sid()
        old_expiry = time.time() + 0.3
        await harness.write(subject, sid, old_expiry)
        record = await subject.lookup(sid)
        record.expires_at = time.time() + 60  # what SessionReader._touched does with the daemon's answer
        await eventually(lambda: time.time() > old_expiry, timeout=5, what="old expiry passed")
        assert subject.cache._records.sweep() == 0
        assert len(subject.cache) == 1 and subject.cached(sid) is record
    finally:
        await harness.close()


async def test_signer_signing_keys_go_with_the_keypair_they_were_derived_from(redis_server):
    """Derived signing keys live in the cached keypair: a changed key (the record re-read after the
    daemon's invalidation) signs with the new secret at once, and a revoked session signs no more."""
    harness = Harness(redis_server, "signer")
    try:
        subject = await harness.subject()
        sid, moment = _sid(), datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
        digest = session_hash(sid)

        async def write(secret: str) -> None:
            record = SecretRecord("AKIA" + sid[:8], secret, "user", time.time() + 60, "u@example.com")
            await harness.admin.set(secret_key(digest), BOX.seal(digest, record))

        def signed(keypair: Keypair) -> dict[str, str]:
            return keypair.signed_headers("GET", "/func/x", "10.0.0.1:8081", "application/json", "v8", moment)

        await write("a" * 40)
        first = await subject.lookup(sid)
        assert signed(first) == signed_headers(
            first.access_key, "a" * 40, "GET", "/func/x", "10.0.0.1:8081", "application/json", "v8", moment
        )
        await write("b" * 40)  # the key changed; the daemon says so
        await harness.admin.publish(EVENTS_CHANNEL, invalidation_message(digest))
        await eventually(lambda: subject.cached(sid) is None, timeout=10, what="invalidated")
        second = await subject.lookup(sid)
        assert second is not first
        assert signed(second) == signed_headers(
            second.access_key, "b" * 40, "GET", "/func/x", "10.0.0.1:8081", "application/json", "v8", moment
        )
        await harness.admin.delete(secret_key(digest))  # revoked
        await harness.admin.publish(EVENTS_CHANNEL, invalidation_message(digest))
        await eventually(lambda: subject.cached(sid) is None, timeout=10, what="revoked")
        assert await subject.lookup(sid) is None
    finally:
        await harness.close()
