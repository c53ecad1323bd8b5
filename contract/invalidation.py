"""Listening for the session daemon's invalidations, shared by the front door's and signers' caches.

While the subscription is down, messages may be lost, so the caches are told to stop trusting
themselves (``on_reset``) until it is back; every (re)subscription starts from an empty cache.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from contract.redis_layout import EVENTS_CHANNEL

log = logging.getLogger(__name__)


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
                log.warning("invalidation channel lost", extra={"event": "redis_unavailable", "error": str(exc)})
            finally:
                if self.live:
                    self.live = False
                    self._on_reset(False)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

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
