"""The signer's key cache without Redis: what it keeps per session id besides the keypairs."""

from __future__ import annotations

import redis.asyncio as aioredis

from contract.redis_layout import SecretBox, session_hash
from signer_worker.key_cache import SecretCache


def test_session_hashes_are_remembered_per_session_id_within_the_cache_size():
    """The hash of a session id (the key of its keypair) is made once, not per request, and no more
    session ids are kept than the cache holds keypairs."""
    client = aioredis.Redis()  # never connected: nothing here reads Redis
    cache = SecretCache(client, SecretBox(bytes(32)), 1.0, max_entries=3)
    for session_id in [f"session-{n}" for n in range(10)] + ["session-9"] * 5:
        assert cache.cached(session_id) is None  # (invalidations not live: memory vouches for nothing)
        assert cache._hash(session_id) == session_hash(session_id)
    info = cache._hash.cache_info()
    assert info.currsize == 3 and info.hits >= 5
