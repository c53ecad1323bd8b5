"""Reading sessions: from memory in steady state, from Redis (read-only) after an invalidation.

The session daemon publishes every logout and revocation; until the subscription is live, the cache
is bypassed.  Sliding expiry is asked of the daemon at most once per ``touch_interval`` per session.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable

import redis.asyncio as aioredis

from contract.invalidation import InvalidationListener
from contract.redis_layout import SessionRecord, session_hash, session_key

log = logging.getLogger(__name__)


class SessionReader:
    def __init__(self, client: aioredis.Redis, touch_interval: float, touch: Callable[[str], "asyncio.Future"]):
        self._client = client
        self._touch_interval = touch_interval
        self._touch = touch
        self._records: dict[str, SessionRecord] = {}
        self._touching: set[str] = set()
        self._revocation_hooks: list[Callable[[str], None]] = []
        self.listener = InvalidationListener(client, self._forget, self._reset)
        self.redis_reads = 0

    def on_revocation(self, hook: Callable[[str], None]) -> None:
        """Called with the session hash whenever the daemon ends a session."""
        self._revocation_hooks.append(hook)

    async def load(self, session_id: str | None) -> SessionRecord | None:
        if not session_id or len(session_id) > 128:
            return None
        digest = session_hash(session_id)
        now = time.time()
        record = self._records.get(digest)
        if record is not None and self.listener.live and record.is_live(now):
            return record
        self.redis_reads += 1
        raw = await self._client.get(session_key(digest))
        if raw is None:
            self._records.pop(digest, None)
            return None
        try:
            record = SessionRecord.from_json(raw)
        except ValueError:
            log.warning("unreadable session record", extra={"event": "bad_session_record"})
            return None
        if not record.is_live(now):
            return None
        if self.listener.live:
            self._records[digest] = record
        return record

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
        if result.status == 200:
            record.last_accessed = time.time()
            record.expires_at = float(result.body["expires_at"])

    async def ping(self) -> None:
        """Raises unless Redis answers (the readiness check)."""
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()

    def _forget(self, digest: str) -> None:
        self._records.pop(digest, None)
        for hook in self._revocation_hooks:
            hook(digest)

    def _reset(self, live: bool) -> None:
        self._records.clear()
