"""Secret keys of live sessions, read from Redis once and then kept in memory until invalidated."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from contract.invalidation import InvalidationListener
from contract.redis_layout import SecretBox, SecretRecord, secret_key, session_hash


class SecretCache:
    def __init__(self, client: aioredis.Redis, box: SecretBox):
        self._client = client
        self._box = box
        self._records: dict[str, SecretRecord] = {}
        self.listener = InvalidationListener(client, self._forget, self._reset)
        self.redis_reads = 0

    def cached(self, session_id: str) -> SecretRecord | None:
        """The keypair if memory can vouch for it (live invalidations, not expired); else None."""
        record = self._records.get(session_hash(session_id))
        if record is not None and self.listener.live and time.time() < record.expires_at:
            return record
        return None

    async def lookup(self, session_id: str) -> SecretRecord | None:
        """The keypair of a live session, or None if it is unknown, expired or revoked."""
        record = self.cached(session_id)
        if record is not None:
            return record
        digest = session_hash(session_id)
        now = time.time()
        self.redis_reads += 1
        raw = await self._client.get(secret_key(digest))
        if raw is None:
            self._records.pop(digest, None)
            return None
        try:
            record = self._box.open(digest, raw)
        except ValueError:
            return None
        if self.listener.live:
            self._records[digest] = record
        return record if now < record.expires_at else None

    def _forget(self, digest: str) -> None:
        self._records.pop(digest, None)

    def _reset(self, live: bool) -> None:
        self._records.clear()
