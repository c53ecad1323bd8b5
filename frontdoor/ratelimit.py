"""Request rate limits shared by every front-door process: a sliding-window counter in Redis.

Each subject (a client IP for logins, an access key) has one counter per fixed window; the sliding
estimate is ``previous * (1 - elapsed/window) + current``, which needs two integers per subject
instead of a log of timestamps.  ``RateLimiter`` (logins) checks and counts in one atomic Lua
script, one Redis round trip per request, so its limit is exact; the hot path of proxied requests
uses the same counters through ``ratelimit_batched.BatchedLimiter`` instead.  A refused request is
not counted, so a client that backs off is let in again on time.

Redis trouble never blocks traffic: the limiter then admits the request and logs (rate-limited).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from typing import Callable, NamedTuple

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from contract.redis_layout import RATE_LIMIT_PREFIX

log = logging.getLogger(__name__)

REDIS_TIMEOUT = 0.5  # seconds; past it the request is admitted rather than held up

# KEYS[1] current window's counter, KEYS[2] previous window's; ARGV: limit, weight of the previous
# window (1 - elapsed/window, in millionths), counter TTL in ms.  Returns {admitted, current, previous}.
SLIDING_WINDOW_SCRIPT = """
local limit = tonumber(ARGV[1])
local weight = tonumber(ARGV[2]) / 1000000
local counts = redis.call('MGET', KEYS[1], KEYS[2])
local current = tonumber(counts[1] or '0')
local previous = tonumber(counts[2] or '0')
if previous * weight + current >= limit then
  return {0, current, previous}
end
current = redis.call('INCR', KEYS[1])
if current == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return {1, current, previous}
"""
SCRIPT_SHA = hashlib.sha1(SLIDING_WINDOW_SCRIPT.encode()).hexdigest()


# Named tuples, not frozen dataclasses: as immutable, and made ~4x faster (a frozen dataclass sets each
# field through ``object.__setattr__``); one of each is made per proxied request.
class Verdict(NamedTuple):
    """What the limiter decided, and what the response headers say about it."""

    admitted: bool
    limit: int
    remaining: int
    window: int
    retry_after: int = 0  # seconds; set when refused

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Window": str(self.window),
        }
        if not self.admitted:
            headers["Retry-After"] = str(self.retry_after)
        return headers

    def set_headers(self, headers) -> None:
        """``headers.update(self.headers())``, set one by one (multidict's ``update`` takes ~3x as long)."""
        headers["X-RateLimit-Limit"] = str(self.limit)
        headers["X-RateLimit-Remaining"] = str(self.remaining)
        headers["X-RateLimit-Window"] = str(self.window)
        if not self.admitted:
            headers["Retry-After"] = str(self.retry_after)


_new_tuple = tuple.__new__


def admitted(limit: int, remaining: int, window: int) -> Verdict:
    """``Verdict(True, limit, remaining, window)``, made without the named tuple's ``__new__`` frame."""
    return _new_tuple(Verdict, (True, limit, remaining, window, 0))


class WindowPosition(NamedTuple):
    index: int  # number of the current fixed window
    elapsed: float  # seconds since it began

    @classmethod
    def at(cls, now: float, window: int) -> WindowPosition:
        index = int(now // window)
        return cls(index, now - index * window)


def estimate(current: int, previous: int, elapsed: float, window: int) -> float:
    return previous * (1 - elapsed / window) + current


def seconds_until_admitted(limit: int, current: int, previous: int, elapsed: float, window: int) -> float:
    """How long until the estimate drops below ``limit`` again if nothing else is counted."""
    if current < limit:
        if previous <= 0:
            return 0.0
        # previous * (1 - (elapsed + t)/window) + current <= limit - 1, within this window
        wait = window * (1 - (limit - 1 - current) / previous) - elapsed
        return max(wait, 0.0)
    # This window alone is over: wait for the next, where this window's count decays.
    return (window - elapsed) + window * max(1 - (limit - 1) / current, 0.0)


def verdict_of(
    admitted: bool, limit: int, current: int, previous: int, position: WindowPosition, window: int
) -> Verdict:
    used = math.ceil(estimate(current, previous, position.elapsed, window))
    if admitted:
        return Verdict(True, limit, max(limit - used, 0), window)
    wait = seconds_until_admitted(limit, current, previous, position.elapsed, window)
    return Verdict(False, limit, 0, window, retry_after=max(1, math.ceil(wait)))


def counter_keys(kind: str, subject: str, position: WindowPosition) -> tuple[str, str]:
    """Keys of the current and previous window; the subject is hashed (no raw IPs in key names)."""
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    base = f"{RATE_LIMIT_PREFIX}{kind}:{digest}:"
    return base + str(position.index), base + str(position.index - 1)


class RateLimiter:
    def __init__(self, client: aioredis.Redis, window: int, clock: Callable[[], float] = time.time):
        self._client = client
        self._window = window
        self._clock = clock  # wall time: every front door must agree on the window numbers
        self.failures = 0

    def set_window(self, window: int) -> None:
        self._window = window

    async def check(self, kind: str, subject: str, limit: int) -> Verdict | None:
        """Count one request of ``subject``; None when Redis could not say (the request is admitted)."""
        position = WindowPosition.at(self._clock(), self._window)
        keys = counter_keys(kind, subject, position)
        weight = round((1 - position.elapsed / self._window) * 1_000_000)
        args = (limit, weight, self._window * 2 * 1000)
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                admitted, current, previous = await self._run(keys, args)
        except (RedisError, OSError, TimeoutError, ValueError) as exc:
            self._report(exc)
            return None
        return verdict_of(bool(admitted), limit, int(current), int(previous), position, self._window)

    async def _run(self, keys: tuple[str, str], args: tuple[int, int, int]) -> list[int]:
        try:
            return await self._client.evalsha(SCRIPT_SHA, 2, *keys, *args)
        except NoScriptError:  # first use since Redis started: EVAL caches the script
            return await self._client.eval(SLIDING_WINDOW_SCRIPT, 2, *keys, *args)

    def _report(self, exc: BaseException) -> None:
        self.failures += 1
        if self.failures & (self.failures - 1) == 0:  # 1, 2, 4, 8, ...: an outage cannot flood the log
            log.warning(
                "rate limiter unavailable; admitting requests",
                extra={"event": "redis_unavailable", "error": type(exc).__name__, "failures": self.failures},
            )

    async def close(self) -> None:
        await self._client.aclose()
