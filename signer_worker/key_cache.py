"""Secret keys of live sessions, read from Redis once and then kept in memory until invalidated or expired."""

from __future__ import annotations

import functools

import redis.asyncio as aioredis

from contract.redis_layout import SecretBox, secret_key, session_hash
from service_runtime.invalidation import MAX_ENTRIES, InvalidatedRecords
from signer_worker.signing import Keypair


class SecretCache:
    def __init__(self, client: aioredis.Redis, box: SecretBox, lookup_timeout: float, max_entries: int = MAX_ENTRIES):
        # Keypairs, not the bare records: the signing keys derived from a secret key live and die with it.
        self._records: InvalidatedRecords[Keypair] = InvalidatedRecords(
            client, secret_key, lambda digest, raw: Keypair.of(box.open(digest, raw)), lookup_timeout, max_entries
        )
        self.listener = self._records.listener
        self.run = self._records.run  # follow invalidations, sweep out expired keypairs
        self.set_lookup_timeout = self._records.set_lookup_timeout  # a reload of signers.request_timeout
        # A session's hash (the cache's key) once per session id, not per request (~1 µs of SHA-256 each):
        # the session ids kept here are the cookies of sessions whose keys this process holds anyway.
        self._hash = functools.lru_cache(maxsize=max_entries)(session_hash)

    def __len__(self) -> int:
        return len(self._records)

    def cached(self, session_id: str) -> Keypair | None:
        """The keypair if memory can vouch for it (live invalidations, not expired); else None."""
        return self._records.cached(self._hash(session_id))

    async def lookup(self, session_id: str) -> Keypair | None:
        """The keypair of a live session, or None if it is unknown, expired or revoked."""
        return await self._records.load(self._hash(session_id))
