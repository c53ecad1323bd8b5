"""Every Redis write of session data (the session daemon is the only writer).

Multi-key changes go in one MULTI/EXEC so readers never see half a session; read-modify-write
changes WATCH their keys so a concurrent logout cannot be undone by a late touch.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import WatchError

from contract.redis_layout import (
    EVENTS_CHANNEL,
    LIVE_SESSIONS_KEY,
    SecretBox,
    SecretRecord,
    SessionRecord,
    invalidation_message,
    login_history_key,
    new_session_id,
    secret_key,
    session_hash,
    session_key,
    user_index_key,
)
from service_runtime.instruments import Instruments
from session_daemon.login_throttle import LoginHistory
from session_daemon.manager_client import Keypair

log = logging.getLogger(__name__)

# Optimistic transactions give up after this many conflicts (the caller then answers 503).
MAX_WATCH_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class NewSession:
    session_id: str  # the cookie value: returned to the front door once, never stored or logged
    record: SessionRecord


def short_hash(digest: str) -> str:
    """The most of a session hash our logs may show."""
    return digest[:8]


class SessionStore:
    def __init__(self, client: aioredis.Redis, box: SecretBox, max_age: int, *, instruments: Instruments):
        self._client = client
        self._session_events = instruments.session_events
        self._box = box
        self._max_age = max_age

    def set_max_age(self, max_age: int) -> None:
        """A reloaded lifetime: it applies to sessions created or touched from now on."""
        self._max_age = max_age

    async def create(self, user_id: str, keypair: Keypair, now: float) -> NewSession:
        session_id = new_session_id()
        digest = session_hash(session_id)
        record = SessionRecord(
            user_id=user_id,
            access_key=keypair.access_key,
            role=keypair.role,
            status=keypair.status,
            created_at=now,
            last_accessed=now,
            expires_at=now + self._max_age,
            preferences={},
        )
        sealed = self._box.seal(
            digest, SecretRecord(keypair.access_key, keypair.secret_key, keypair.role, record.expires_at, user_id)
        )
        index = user_index_key(user_id)
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.set(session_key(digest), record.to_json(), ex=self._max_age)
            pipe.set(secret_key(digest), sealed, ex=self._max_age)
            pipe.sadd(index, digest)
            pipe.expire(index, self._max_age)
            pipe.zadd(LIVE_SESSIONS_KEY, {digest: record.expires_at})
            await pipe.execute()
        return NewSession(session_id, record)

    async def delete(self, digest: str) -> str | None:
        """Remove a session and announce it; returns its user id if it still existed. Idempotent."""
        user_id = _user_of(await self._client.get(session_key(digest)))
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.delete(session_key(digest), secret_key(digest))
            pipe.zrem(LIVE_SESSIONS_KEY, digest)
            if user_id is not None:
                pipe.srem(user_index_key(user_id), digest)
            # Announced even when nothing was stored: a cache may still hold it.
            pipe.publish(EVENTS_CHANNEL, invalidation_message(digest))
            await pipe.execute()
        return user_id

    async def touch(self, digest: str, now: float) -> SessionRecord | None:
        """Slide a live session's expiry; None if it is gone (a broken or overdue one is removed)."""
        for _ in range(MAX_WATCH_ATTEMPTS):
            try:
                record, stale = await self._touch_once(digest, now)
            except WatchError:
                continue  # changed under us (logout, revoke): look again
            if stale:
                user_id = await self.delete(digest)
                self._session_events.labels("session_expire").inc()
                context = {
                    "event": "session_expire",
                    "status": "success",
                    "user_id": user_id,
                    "session": short_hash(digest),
                }
                log.info("session expired", extra=context)
            return record
        raise WatchError("session kept changing during touch")

    async def _touch_once(self, digest: str, now: float) -> tuple[SessionRecord | None, bool]:
        skey, ckey = session_key(digest), secret_key(digest)
        async with self._client.pipeline(transaction=True) as pipe:
            await pipe.watch(skey, ckey)
            raw_session, raw_secret = await pipe.get(skey), await pipe.get(ckey)
            if raw_session is None:
                return None, raw_secret is not None  # an orphaned secret is tidied away
            record = _parse_session(raw_session)
            secret_doc = _parse_object(raw_secret)
            if record is None or secret_doc is None or not record.is_live(now):
                return None, True
            record.last_accessed = now
            record.expires_at = now + self._max_age
            # expires_at sits outside the ciphertext (not in the AAD): no decryption needed to move it.
            secret_doc["expires_at"] = record.expires_at
            pipe.multi()
            pipe.set(skey, record.to_json(), ex=self._max_age)
            pipe.set(ckey, json.dumps(secret_doc, separators=(",", ":")), ex=self._max_age)
            pipe.expire(user_index_key(record.user_id), self._max_age)
            pipe.zadd(LIVE_SESSIONS_KEY, {digest: record.expires_at})
            await pipe.execute()
            return record, False

    async def revoke_user(self, user_id: str) -> int:
        """Delete every session of a user; returns how many were still live."""
        for _ in range(MAX_WATCH_ATTEMPTS):
            try:
                return await self._revoke_user_once(user_id)
            except WatchError:
                continue  # a login or logout of this user raced us: read the index again
        raise WatchError("user index kept changing during revoke")

    async def _revoke_user_once(self, user_id: str) -> int:
        index = user_index_key(user_id)
        async with self._client.pipeline(transaction=True) as pipe:
            await pipe.watch(index)
            digests = sorted(member.decode() for member in await pipe.smembers(index))
            pipe.multi()
            for digest in digests:
                pipe.delete(session_key(digest))
                pipe.delete(secret_key(digest))
                pipe.publish(EVENTS_CHANNEL, invalidation_message(digest))
            pipe.delete(index)
            if digests:
                pipe.zrem(LIVE_SESSIONS_KEY, *digests)  # after the per-digest replies counted below
            results = await pipe.execute()
        # Three replies per digest; the first (DEL websession) says whether it was still live.
        return sum(1 for position in range(0, 3 * len(digests), 3) if results[position])

    async def count_live(self, now: float) -> int:
        """Live sessions: expired entries (idle timeouts Redis already enforced) are dropped first."""
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(LIVE_SESSIONS_KEY, "-inf", now)
            pipe.zcard(LIVE_SESSIONS_KEY)
            _, live = await pipe.execute()
        return int(live)

    async def load_login_history(self, username: str) -> LoginHistory:
        return LoginHistory.parse(await self._client.get(login_history_key(username)))

    async def save_login_history(self, username: str, history: LoginHistory, ttl: int) -> None:
        await self._client.set(login_history_key(username), history.to_json(), ex=ttl)


def _parse_session(raw: bytes) -> SessionRecord | None:
    try:
        return SessionRecord.from_json(raw)
    except ValueError:  # also covers JSON and UTF-8 decoding errors
        return None


def _parse_object(raw: bytes | None) -> dict | None:
    if raw is None:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _user_of(raw: bytes | None) -> str | None:
    doc = _parse_object(raw)
    user_id = doc.get("user_id") if doc else None
    return user_id if isinstance(user_id, str) else None
