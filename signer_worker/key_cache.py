"""Secret keys of live sessions, read from Redis once and then kept in memory until invalidated."""

from __future__ import annotations

import redis.asyncio as aioredis

from contract.redis_layout import SecretBox, SecretRecord, secret_key, session_hash
from service_runtime.invalidation import InvalidatedRecords


class SecretCache:
    def __init__(self, client: aioredis.Redis, box: SecretBox, lookup_timeout: float):
        self._records: InvalidatedRecords[SecretRecord] = InvalidatedRecords(client, secret_key, box.open,
                                                                             lookup_timeout)
        self.listener = self._records.listener

    def cached(self, session_id: str) -> SecretRecord | None:
        """The keypair if memory can vouch for it (live invalidations, not expired); else None."""
        return self._records.cached(session_hash(session_id))

    async def lookup(self, session_id: str) -> SecretRecord | None:
        """The keypair of a live session, or None if it is unknown, expired or revoked."""
        return await self._records.load(session_hash(session_id))
