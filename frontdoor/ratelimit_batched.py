"""The per-access-key limit on the hot path: decided in memory, shared through Redis in batches.

Each front-door process keeps, per access key, the last global counts it read from Redis plus its
own admissions since then.  A request is decided at once from those numbers (no round trip; the
first request of a key in a process reads its counts once).  Every ``sync_interval`` one script
(``SYNC_SCRIPT``, one command) adds the local admissions to the shared counters (``INCRBY``) and
reads back the totals of every key in use, for all keys at once.  The counters, keys and sliding-window estimate are the same ones
``ratelimit.RateLimiter`` uses.

The price is a bounded overshoot: between two syncs, each process knows nothing of the others'
newest admissions, so N processes may together admit up to ``(N - 1) x rate x sync_interval`` more
than the limit.  For limits of thousands per minute and a 0.1 s sync, that is a handful of requests.

An idle process does not sync: when no request was decided since the last exchange began and nothing
is left to add, the sync is skipped and the counts go stale; a stale key's next request reads its
counts once before it is decided, as a key's first request does (if Redis does not answer, that one
request waits up to ``REDIS_TIMEOUT``, and then every key is decided from the local counts, as after a
failed sync).  So every decision still rests on counts read at most one interval before (plus the
round trip), and a process that serves nothing costs Redis nothing (and, its sync task waiting for a request, not even a timer).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Callable

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from frontdoor.ratelimit import REDIS_TIMEOUT, Verdict, WindowPosition, admitted, counter_keys, verdict_of

log = logging.getLogger(__name__)

# One sync in one command (a pipeline of INCRBY + PEXPIRE + MGET per key cost ~3x the CPU in redis-py).
# KEYS: the counters of windows already left with admissions still to add, then (current, previous)
# of every key in use.  ARGV: counter TTL in ms, how many counters of left windows, their counts, then
# our admissions per key in use.  Returns (current, previous) of every key in use, flat.  It sends the
# commands the pipeline sent (INCRBY, PEXPIRE, MGET): GET stays what session and key reads use, so
# Redis's per-command statistics still tell a request-path read from the limiter's sync.
SYNC_SCRIPT = """
local ttl, left = ARGV[1], tonumber(ARGV[2])
for i = 1, left do
  redis.call('INCRBY', KEYS[i], ARGV[2 + i])
  redis.call('PEXPIRE', KEYS[i], ttl)
end
local totals = {}
for j = 1, (#KEYS - left) / 2 do
  local current_key, previous_key = KEYS[left + 2 * j - 1], KEYS[left + 2 * j]
  local admitted = tonumber(ARGV[2 + left + j])
  if admitted > 0 then
    redis.call('INCRBY', current_key, admitted)
    redis.call('PEXPIRE', current_key, ttl)
  end
  local pair = redis.call('MGET', current_key, previous_key)
  totals[2 * j - 1] = tonumber(pair[1] or '0')
  totals[2 * j] = tonumber(pair[2] or '0')
end
return totals
"""
SYNC_SCRIPT_SHA = hashlib.sha1(SYNC_SCRIPT.encode()).hexdigest()
KIND = "key"
MAX_SUBJECTS = 100_000  # memory bound: least recently seen keys are forgotten beyond it


@dataclass(slots=True)
class _Counts:
    index: int  # the window the counts below belong to
    current: int = 0  # global count of that window at the last sync (our synced admissions included)
    previous: int = 0  # global count of the window before
    flushing: int = 0  # our admissions on their way to Redis in the sync under way
    pending: int = 0  # our admissions since
    seen: float = 0.0  # clock time of the last request
    stale: bool = False  # not read since a sync was skipped (see ``_rest``): read at the next request

    @property
    def known_current(self) -> int:
        return self.current + self.flushing + self.pending


def _current_key(subject: str, index: int) -> str:
    return counter_keys(KIND, subject, WindowPosition(index, 0.0))[0]


class BatchedLimiter:
    def __init__(
        self, client: aioredis.Redis, window: int, sync_interval: float, clock: Callable[[], float] = time.time
    ):
        self._client = client
        self._window = window
        self._sync_interval = sync_interval
        self._clock = clock
        self._counts: dict[str, _Counts] = {}
        self._unflushed: list[tuple[str, int]] = []  # (counter key, count) of windows already left
        self._asked = False  # a request was decided since the last exchange began
        self._resting = False  # syncs are skipped: every key's counts are stale
        self._woken = asyncio.Event()  # set by a request decided while resting
        self.failures = 0
        self.syncs = 0

    @property
    def resting(self) -> bool:
        """Whether syncs are skipped for want of requests (``_rest``)."""
        return self._resting

    def reload(self, window: int, sync_interval: float) -> None:
        """New settings from the next request and sync on (a new window length starts new counters)."""
        self._window, self._sync_interval = window, sync_interval

    def admit_known(self, subject: str, limit: int) -> Verdict | None:
        """``admit`` without a coroutine when it would not read (the counts are known and fresh: a busy
        key's every request); None when the counts must be read first (then ``admit``)."""
        counts = self._counts.get(subject)
        if counts is None or counts.stale:
            return None
        return self.check(subject, limit)

    async def admit(self, subject: str, limit: int) -> Verdict:
        """``check``, after reading the shared counts once if this process has not seen ``subject`` yet
        (one round trip per key and process, at the key's first request), or again if they went
        stale while this process was idle."""
        counts = self._counts.get(subject)
        if counts is None or counts.stale:
            await self._learn(subject)
        return self.check(subject, limit)

    async def _learn(self, subject: str) -> None:
        position = WindowPosition.at(self._clock(), self._window)
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                current, previous = await self._client.mget(*counter_keys(KIND, subject, position))
        except (RedisError, OSError, TimeoutError) as exc:
            self._report(exc)
            for counts in self._counts.values():  # Redis away: the local counts decide, as after a
                counts.stale = False  # failed sync, and no other key's request waits for it too
            return
        counts = self._counts.get(subject)
        if counts is None:  # nobody learned it meanwhile
            self._forget_oldest()
            self._counts[subject] = _Counts(position.index, int(current or 0), int(previous or 0))
        elif counts.stale:
            counts.stale = False
            if not (counts.pending or counts.flushing):  # nothing of ours on its way: the totals are all
                self._counts[subject] = _Counts(position.index, int(current or 0), int(previous or 0), seen=counts.seen)

    def check(self, subject: str, limit: int) -> Verdict:
        """Admit or refuse one request of ``subject`` now, from what this process knows.

        ``WindowPosition.at``, ``estimate`` and ``verdict_of`` written out for the admitted case (the
        same arithmetic in the same order: the same verdict), without their calls and tuples."""
        now = self._clock()
        self._asked = True
        if self._resting:
            self._woken.set()
        window = self._window
        index = int(now // window)
        elapsed = now - index * window
        counts = self._counts.get(subject)
        if counts is None:
            self._forget_oldest()
            counts = self._counts[subject] = _Counts(index)
        elif counts.index != index:
            self._roll(subject, counts, index)
        counts.seen = now
        current = counts.current + counts.flushing + counts.pending  # (known_current)
        weighted = counts.previous * (1 - elapsed / window)
        if weighted + current >= limit:
            return verdict_of(False, limit, current, counts.previous, WindowPosition(index, elapsed), window)
        counts.pending += 1
        return admitted(limit, max(limit - math.ceil(weighted + (current + 1)), 0), window)

    def _roll(self, subject: str, counts: _Counts, index: int) -> None:
        """A new window: this one's count becomes the previous one; what is not in Redis yet goes later."""
        if counts.pending:
            self._unflushed.append((_current_key(subject, counts.index), counts.pending))
        counts.previous = counts.known_current if index == counts.index + 1 else 0
        counts.current = counts.flushing = counts.pending = 0  # a sync under way settles the old window
        counts.index = index

    def _forget_oldest(self) -> None:
        if len(self._counts) >= MAX_SUBJECTS:
            for subject in sorted(self._counts, key=lambda s: self._counts[s].seen)[: MAX_SUBJECTS // 10]:
                if not (self._counts[subject].pending or self._counts[subject].flushing):
                    del self._counts[subject]

    async def run(self) -> None:
        """Sync forever (a background task of the front-door worker); while resting, not even a timer."""
        while True:
            await asyncio.sleep(self._sync_interval)
            await self.sync()
            if self._resting:  # until a request is decided (``check`` wakes it)
                self._woken.clear()
                await self._woken.wait()

    async def sync(self) -> None:
        """Add our admissions to the shared counters and read everyone's totals: one round trip."""
        self._drop_idle(self._clock())
        if not self._counts and not self._unflushed:
            return
        if not self._asked and not self._unflushed:
            self._rest()
            return
        self._asked = self._resting = False
        unflushed, self._unflushed = self._unflushed, []
        batch = []
        for subject, counts in self._counts.items():
            counts.flushing, counts.pending = counts.pending, 0
            batch.append((subject, counts.index, counts.flushing))
        try:
            async with asyncio.timeout(REDIS_TIMEOUT):
                results = await self._exchange(unflushed, batch)
        except (RedisError, OSError, TimeoutError) as exc:
            self._unflushed = unflushed + self._unflushed  # counted at the next sync
            self._asked = True  # the admissions put back below go at the next sync, asked or not
            for subject, index, flushing in batch:
                self._settle(subject, index, flushing, None)
            self._report(exc)
            return
        self.syncs += 1
        for (subject, index, flushing), totals in zip(batch, results):
            self._settle(subject, index, flushing, totals)

    async def _exchange(self, unflushed: list[tuple[str, int]], batch: list[tuple[str, int, int]]) -> list:
        """One script: INCRBY what we admitted, then read (current, previous) of every key in use."""
        keys = [key for key, _count in unflushed]
        args = [self._window * 2 * 1000, len(unflushed), *(count for _key, count in unflushed)]
        for subject, index, flushing in batch:
            keys += counter_keys(KIND, subject, WindowPosition(index, 0.0))
            args.append(flushing)
        try:
            totals = await self._client.evalsha(SYNC_SCRIPT_SHA, len(keys), *keys, *args)
        except NoScriptError:  # first use since Redis started: EVAL caches the script
            totals = await self._client.eval(SYNC_SCRIPT, len(keys), *keys, *args)
        return [(int(totals[i]), int(totals[i + 1])) for i in range(0, 2 * len(batch), 2)]

    def _settle(self, subject: str, index: int, flushing: int, totals: tuple[int, int] | None) -> None:
        """Take in a sync's answer (``None``: it failed) for the window it was about."""
        counts = self._counts.get(subject)
        same_window = counts is not None and counts.index == index
        if same_window:
            counts.flushing -= flushing
        if totals is None:  # the admissions go again next time
            if same_window:
                counts.pending += flushing
            elif flushing:
                self._unflushed.append((_current_key(subject, index), flushing))
            return
        if same_window:
            counts.current, counts.previous, counts.stale = *totals, False
        elif counts is not None and counts.index == index + 1:  # rolled meanwhile: that window is the previous
            old_key = _current_key(subject, index)
            counts.previous = totals[0] + sum(count for key, count in self._unflushed if key == old_key)

    def _rest(self) -> None:
        """No request since the last exchange began, nothing to add: no exchange (an idle process costs
        neither itself nor Redis a round trip per interval).  Every key's counts go stale, so its next
        request reads them first (``admit``): no decision rests on counts older than an interval."""
        if not self._resting:
            for counts in self._counts.values():
                counts.stale = True
            self._resting = True

    def _drop_idle(self, now: float) -> None:
        idle = [
            subject
            for subject, counts in self._counts.items()
            if now - counts.seen > 2 * self._window and not (counts.pending or counts.flushing)
        ]
        for subject in idle:
            del self._counts[subject]

    def _report(self, exc: BaseException) -> None:
        self.failures += 1
        if self.failures & (self.failures - 1) == 0:
            log.warning(
                "rate-limit sync failed; deciding from local counts",
                extra={"event": "redis_unavailable", "error": type(exc).__name__, "failures": self.failures},
            )
