"""Reading sessions: from memory in steady state, from Redis (read-only) after an invalidation.

The session daemon publishes every logout and revocation; until the subscription is live, the cache
is bypassed.  Sliding expiry is asked of the daemon at most once per ``touch_interval`` per session.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import redis.asyncio as aioredis

from contract.config import Config
from contract.redis_layout import READY_PROBE_KEY, SessionRecord, session_hash, session_key
from contract.session_results import Touched
from service_runtime.invalidation import MAX_ENTRIES, InvalidatedRecords


class SessionReader:
    def __init__(
        self,
        client: aioredis.Redis,
        touch_interval: float,
        touch: Callable[[str], asyncio.Future],
        max_entries: int = MAX_ENTRIES,
    ):
        self._client = client
        self._touch_interval = touch_interval
        self._touch = touch
        self._records: InvalidatedRecords[SessionRecord] = InvalidatedRecords(
            client, session_key, lambda _digest, raw: SessionRecord.from_json(raw), max_entries=max_entries
        )
        self._touching: set[str] = set()
        self.listener = self._records.listener
        self.run = self._records.run  # follow invalidations, sweep out expired records

    def __len__(self) -> int:
        return len(self._records)

    def cached(self, session_id: str) -> SessionRecord | None:
        """The record if memory can vouch for it (live invalidations, not expired); else None."""
        return self._records.cached(session_hash(session_id))

    def cached_of(self, session_id: str | None, digest: str | None) -> SessionRecord | None:
        """What ``load(session_id, digest)`` answers when memory can vouch for the record, without a
        coroutine; None otherwise (``load`` then decides: it starts with the same look-up)."""
        if not session_id or len(session_id) > 128:
            return None
        return self._records.cached(session_hash(session_id) if digest is None else digest)

    def reload(self, config: Config) -> None:
        self._touch_interval = config.session.touch_interval

    def on_revocation(self, hook: Callable[[str], None]) -> None:
        """Called with the session hash whenever the daemon ends a session."""
        self._records.on_forget(hook)

    async def load(self, session_id: str | None, digest: str | None = None) -> SessionRecord | None:
        """The live session of ``session_id`` (``digest``: its ``session_hash``, when the caller has it)."""
        if not session_id or len(session_id) > 128:
            return None
        return await self._records.load(session_hash(session_id) if digest is None else digest)

    def keep_alive(self, session_id: str, record: SessionRecord) -> None:
        """Slide the expiry if it has not been slid recently (fire and forget)."""
        if time.time() - record.last_accessed < self._touch_interval:
            return
        digest = session_hash(session_id)
        if digest in self._touching:
            return
        self._touching.add(digest)
        task = asyncio.ensure_future(self._touch(session_id))
        task.add_done_callback(lambda done: self._touched(digest, record, done))

    def _touched(self, digest: str, record: SessionRecord, done: asyncio.Future) -> None:
        self._touching.discard(digest)
        if done.cancelled() or done.exception() is not None:
            return
        result = done.result()
        if isinstance(result, Touched):
            record.last_accessed = time.time()
            record.expires_at = result.expires_at

    async def ping(self) -> None:
        """Raises unless Redis answers and takes writes (the readiness check): a replica, or a master
        demoted by a failover while we still talk to it, answers PING but refuses writes."""
        await self._client.ping()
        await self._client.incr(READY_PROBE_KEY)
        await self._client.pexpire(READY_PROBE_KEY, 60_000)

    async def close(self) -> None:
        await self._client.aclose()
