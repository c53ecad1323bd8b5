"""Rate limits: the sliding-window arithmetic (no I/O), then the Lua script on a real redis-server."""

from __future__ import annotations

import asyncio
import contextlib
import math
import random

import pytest
import redis.asyncio as aioredis

from contract.host_layout import redis_password_file
from frontdoor.ratelimit import (
    RateLimiter,
    Verdict,
    WindowPosition,
    counter_keys,
    estimate,
    seconds_until_admitted,
    verdict_of,
)
from tests.session_daemon.conftest import redis_secrets, redis_server  # noqa: F401  (module fixtures)
from tests.support.servers import start_redis

WINDOW = 60


@pytest.mark.parametrize(
    "now, index, elapsed",
    [(0.0, 0, 0.0), (59.9, 0, 59.9), (60.0, 1, 0.0), (125.5, 2, 5.5)],
)
def test_window_position(now, index, elapsed):
    position = WindowPosition.at(now, WINDOW)
    assert position.index == index and math.isclose(position.elapsed, elapsed)


@pytest.mark.parametrize(
    "current, previous, elapsed, expected",
    [(0, 0, 0, 0), (5, 0, 30, 5), (0, 10, 0, 10), (0, 10, 30, 5), (3, 10, 54, 4), (0, 10, 60, 0)],
)
def test_estimate_slides_the_previous_window_out(current, previous, elapsed, expected):
    assert math.isclose(estimate(current, previous, elapsed, WINDOW), expected)


@pytest.mark.parametrize(
    "limit, current, previous, elapsed",
    [(10, 10, 0, 0), (10, 10, 0, 59), (10, 5, 10, 0), (10, 9, 10, 30), (10, 0, 20, 0), (10, 25, 7, 12), (1, 1, 1, 0)],
)
def test_retry_after_is_exactly_when_a_request_is_admitted_again(limit, current, previous, elapsed):
    wait = seconds_until_admitted(limit, current, previous, elapsed, WINDOW)
    later = elapsed + wait
    if later < WINDOW:  # still this window
        assert estimate(current, previous, later, WINDOW) <= limit - 1 + 1e-9
        assert estimate(current, previous, max(later - 1, elapsed), WINDOW) > limit - 1 or wait < 1
    else:  # the next one: this window's count is now the previous one
        assert estimate(0, current, later - WINDOW, WINDOW) <= limit - 1 + 1e-9


def test_verdict_headers():
    assert Verdict(True, 100, 42, 60).headers() == {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "42",
        "X-RateLimit-Window": "60",
    }
    assert Verdict(False, 100, 0, 60, retry_after=7).headers()["Retry-After"] == "7"


def test_counter_keys_hold_no_raw_subject():
    current, previous = counter_keys("login", "203.0.113.9", WindowPosition(100, 1.0))
    assert current.startswith("ratelimit:login:") and current.endswith(":100") and previous.endswith(":99")
    assert "203.0.113.9" not in current
    assert counter_keys("key", "A", WindowPosition(1, 0)) != counter_keys("login", "A", WindowPosition(1, 0))


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def frontdoor_redis(redis_server, redis_secrets):  # noqa: F811
    password = redis_password_file(redis_secrets, "frontdoor").read_text().strip()
    client = aioredis.Redis(port=redis_server.port, username="frontdoor", password=password)
    yield client
    await client.aclose()
    with redis_server.admin() as admin:
        admin.delete(*admin.keys("ratelimit:*") or ["none"])


async def test_limit_is_shared_by_every_limiter_and_slides(frontdoor_redis, redis_server):  # noqa: F811
    clock = Clock(1_000_000 * WINDOW + 10.0)  # 10 s into a window
    # Two limiters on two connections stand for two front-door processes.
    password = frontdoor_redis.connection_pool.connection_kwargs["password"]
    other_client = aioredis.Redis(port=redis_server.port, username="frontdoor", password=password)
    first, second = RateLimiter(frontdoor_redis, WINDOW, clock), RateLimiter(other_client, WINDOW, clock)
    try:
        verdicts = [await (first if i % 2 else second).check("key", "AKIA1", 5) for i in range(7)]
        assert [v.admitted for v in verdicts] == [True] * 5 + [False] * 2
        assert [v.remaining for v in verdicts[:5]] == [4, 3, 2, 1, 0]
        refused = verdicts[-1]
        assert refused.retry_after == 60 - 10 + math.ceil(60 * (1 - 4 / 5))  # next window, then slide
        assert (await first.check("key", "AKIA2", 5)).admitted  # another key has its own counter
        clock.now += 50 + 2  # 2 s into the next window: 5 * (1 - 2/60) = 4.83 < 5 -> room for one
        assert (await second.check("key", "AKIA1", 5)).admitted
        assert not (await first.check("key", "AKIA1", 5)).admitted  # 4.83 + 1 >= 5
        clock.now += 12  # 14 s in: 5 * (1 - 14/60) + 1 = 4.83 -> one more, and no more
        verdict = await second.check("key", "AKIA1", 5)
        assert verdict.admitted and verdict.remaining == 0
        assert not (await first.check("key", "AKIA1", 5)).admitted
    finally:
        await other_client.aclose()


async def test_refused_requests_are_not_counted(frontdoor_redis, redis_server):  # noqa: F811
    clock = Clock(2_000_000 * WINDOW)
    limiter = RateLimiter(frontdoor_redis, WINDOW, clock)
    for _ in range(3):
        await limiter.check("login", "198.51.100.1", 3)
    for _ in range(20):  # a client hammering while refused
        assert not (await limiter.check("login", "198.51.100.1", 3)).admitted
    with redis_server.admin() as admin:
        current, _ = counter_keys("login", "198.51.100.1", WindowPosition.at(clock.now, WINDOW))
        assert int(admin.get(current)) == 3
        assert 0 < admin.pttl(current) <= 2 * WINDOW * 1000  # counters expire on their own


async def test_concurrent_checks_never_admit_more_than_the_limit(frontdoor_redis, monkeypatch):
    # Counting is under test, not the give-up time: 100 new connections at once on a loaded machine
    # can take longer than the production bound (a check past it admits and returns None).
    monkeypatch.setattr("frontdoor.ratelimit.REDIS_TIMEOUT", 10.0)
    limiter = RateLimiter(frontdoor_redis, WINDOW, Clock(3_000_000 * WINDOW))
    verdicts = await asyncio.gather(*(limiter.check("key", "AKIA3", 25) for _ in range(100)))
    assert sum(v.admitted for v in verdicts) == 25


async def test_redis_down_admits_and_reports(redis_secrets):  # noqa: F811
    password = redis_password_file(redis_secrets, "frontdoor").read_text().strip()
    from tests.support.ports import free_port

    client = aioredis.Redis(port=free_port(), username="frontdoor", password=password, socket_connect_timeout=0.2)
    limiter = RateLimiter(client, WINDOW)
    try:
        assert await limiter.check("key", "AKIA4", 1) is None
        assert limiter.failures == 1
    finally:
        await client.aclose()


# ---- the per-access-key limit: decided in memory, synced in batches ----

from frontdoor.ratelimit_batched import BatchedLimiter, _Counts  # noqa: E402


async def test_batched_limiters_share_counts_at_each_sync(frontdoor_redis, redis_server):  # noqa: F811
    clock = Clock(4_000_000 * WINDOW + 30.0)
    password = frontdoor_redis.connection_pool.connection_kwargs["password"]
    other_client = aioredis.Redis(port=redis_server.port, username="frontdoor", password=password)
    first, second = (
        BatchedLimiter(frontdoor_redis, WINDOW, 0.1, clock),
        BatchedLimiter(other_client, WINDOW, 0.1, clock),
    )
    try:
        assert [first.check("AKIA5", 6).admitted for _ in range(4)] == [True] * 4  # no await: no round trip
        await first.sync()
        assert (await second.admit("AKIA5", 6)).remaining == 1  # its first sight of the key reads Redis
        assert [second.check("AKIA5", 6).admitted for _ in range(2)] == [True, False]
        await second.sync()
        await first.sync()  # nothing asked of it since its last sync: it rests, its counts go stale
        verdict = await first.admit("AKIA5", 6)  # so its next request reads them first
        assert not verdict.admitted and verdict.remaining == 0 and verdict.retry_after >= 1
        assert first.check("AKIA6", 6).admitted  # other keys are counted apart
        with redis_server.admin() as admin:
            current, _ = counter_keys("key", "AKIA5", WindowPosition.at(clock.now, WINDOW))
            assert int(admin.get(current)) == 6  # the same counters as the exact limiter's
    finally:
        await other_client.aclose()


async def test_without_a_sync_each_process_overshoots_by_what_it_admits_alone(frontdoor_redis, redis_server):  # noqa: F811
    clock = Clock(5_000_000 * WINDOW)
    password = frontdoor_redis.connection_pool.connection_kwargs["password"]
    other_client = aioredis.Redis(port=redis_server.port, username="frontdoor", password=password)
    first, second = (
        BatchedLimiter(frontdoor_redis, WINDOW, 0.1, clock),
        BatchedLimiter(other_client, WINDOW, 0.1, clock),
    )
    try:
        admitted = [(await limiter.admit("AKIA7", 3)).admitted for limiter in (first, second) for _ in range(5)]
        assert sum(admitted) == 6  # the documented bound: each admits up to the limit between two syncs
        await first.sync()
        await second.sync()
        await first.sync()
        assert not first.check("AKIA7", 3).admitted and not second.check("AKIA7", 3).admitted
    finally:
        await other_client.aclose()


async def test_batched_counts_slide_into_the_next_window(frontdoor_redis):
    clock = Clock(6_000_000 * WINDOW + 50.0)
    limiter = BatchedLimiter(frontdoor_redis, WINDOW, 0.1, clock)
    assert sum(limiter.check("AKIA8", 10).admitted for _ in range(12)) == 10
    await limiter.sync()
    clock.now += 10 + 30  # half-way through the next window: 10 * 0.5 = 5 still count
    assert sum(limiter.check("AKIA8", 10).admitted for _ in range(10)) == 5
    await limiter.sync()
    restarted = BatchedLimiter(frontdoor_redis, WINDOW, 0.1, clock)  # a new process learns it all from Redis
    assert not (await restarted.admit("AKIA8", 10)).admitted


async def test_a_window_that_rolls_during_a_sync_is_neither_lost_nor_counted_twice(frontdoor_redis, redis_server):  # noqa: F811
    clock = Clock(7_000_000 * WINDOW + 59.9)
    limiter = BatchedLimiter(frontdoor_redis, WINDOW, 0.1, clock)
    for _ in range(3):
        limiter.check("AKIA9", 100)
    syncing = asyncio.ensure_future(limiter.sync())
    await asyncio.sleep(0)  # the pipeline is out
    clock.now += 0.2  # the next window
    limiter.check("AKIA9", 100)
    await syncing
    await limiter.sync()
    with redis_server.admin() as admin:
        old, _ = counter_keys("key", "AKIA9", WindowPosition(7_000_000, 0))
        new, _ = counter_keys("key", "AKIA9", WindowPosition(7_000_001, 0))
        assert (int(admin.get(old)), int(admin.get(new))) == (3, 1)


async def test_redis_down_keeps_deciding_locally_and_counts_later(redis_secrets):  # noqa: F811
    from tests.support.ports import free_port

    password = redis_password_file(redis_secrets, "frontdoor").read_text().strip()
    client = aioredis.Redis(port=free_port(), username="frontdoor", password=password, socket_connect_timeout=0.2)
    limiter = BatchedLimiter(client, WINDOW, 0.1, Clock(8_000_000 * WINDOW))
    try:
        assert sum(limiter.check("AKIA10", 2).admitted for _ in range(4)) == 2
        await limiter.sync()
        assert limiter.failures == 1 and not limiter.check("AKIA10", 2).admitted
    finally:
        await client.aclose()


def sync_commands(redis_server) -> dict[str, int]:  # noqa: F811
    """Calls per command since the last reset (commands a script runs are counted too), the admin
    connection's own set-up aside."""
    with redis_server.admin() as admin:
        stats = admin.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): value["calls"] for name, value in stats.items()}
    return {
        name: count for name, count in calls.items() if name.split("|")[0] not in ("config", "auth", "hello", "client")
    }


async def test_a_sync_of_several_keys_and_a_left_window_is_one_script(frontdoor_redis, redis_server):  # noqa: F811
    clock = Clock(9_000_000 * WINDOW + 59.9)
    limiter = BatchedLimiter(frontdoor_redis, WINDOW, 0.1, clock)
    assert (await limiter.admit("AKIA11", 100)).admitted  # learned: its connection is open
    limiter.check("AKIA11", 100)
    clock.now += 0.2  # the next window: AKIA11's two admissions are left to add to the old counter
    limiter.check("AKIA11", 100)
    limiter.check("AKIA12", 100)
    limiter.check("AKIA13", 100)
    await limiter.sync()
    with redis_server.admin() as admin:
        admin.incrby(counter_keys("key", "AKIA13", WindowPosition(9_000_001, 0))[0], 5)  # another process
        admin.config_resetstat()
        admin.script_flush()  # as after a restart of Redis: the script is sent again
    for _ in range(2):
        limiter.check("AKIA12", 100)
        await limiter.sync()
    commands = sync_commands(redis_server)
    # Two syncs (the first one's EVALSHA finds no script and runs nothing; EVAL then runs it), each
    # reading three keys with one MGET inside the script and adding AKIA12's one admission: nothing
    # outside the scripts, and no GET (what session reads use).
    assert commands == {"script|flush": 1, "evalsha": 2, "eval": 1, "mget": 6, "incrby": 2, "pexpire": 2}, commands
    with redis_server.admin() as admin:
        values = {
            (subject, index): int(admin.get(counter_keys("key", subject, WindowPosition(index, 0))[0]) or 0)
            for subject in ("AKIA11", "AKIA12", "AKIA13")
            for index in (9_000_000, 9_000_001)
        }
    assert values == {
        ("AKIA11", 9_000_000): 2,
        ("AKIA11", 9_000_001): 1,
        ("AKIA12", 9_000_000): 0,
        ("AKIA12", 9_000_001): 3,
        ("AKIA13", 9_000_000): 0,
        ("AKIA13", 9_000_001): 6,
    }
    assert limiter.check("AKIA11", 100).remaining == 100 - 2 - 1 - 1  # (2 x ~1.0 of the window before) + 1 + 1
    assert limiter.check("AKIA13", 100).remaining == 100 - 6 - 1


async def test_an_idle_process_does_not_sync_and_reads_again_at_its_next_request(frontdoor_redis, redis_server):  # noqa: F811
    clock = Clock(10_000_000 * WINDOW)
    password = frontdoor_redis.connection_pool.connection_kwargs["password"]
    other_client = aioredis.Redis(port=redis_server.port, username="frontdoor", password=password)
    idle, busy = BatchedLimiter(frontdoor_redis, WINDOW, 0.1, clock), BatchedLimiter(other_client, WINDOW, 0.1, clock)
    try:
        assert (await idle.admit("AKIA14", 10)).remaining == 9
        await idle.sync()
        with redis_server.admin() as admin:
            admin.config_resetstat()
        for _ in range(3):
            await idle.sync()  # no request since: nothing sent
        assert sync_commands(redis_server) == {} and idle.syncs == 1
        for _ in range(4):
            await busy.admit("AKIA14", 10)
        await busy.sync()
        assert (await idle.admit("AKIA14", 10)).remaining == 10 - 1 - 4 - 1  # read before it was decided
        assert [idle.check("AKIA14", 10).admitted for _ in range(5)] == [True] * 4 + [False]
        await idle.sync()
        assert idle.syncs == 2
    finally:
        await other_client.aclose()


async def test_admissions_a_failed_sync_put_back_go_at_the_next_sync_without_a_request(redis_secrets, tmp_path):  # noqa: F811
    from tests.support.ports import free_port

    port = free_port()
    password = redis_password_file(redis_secrets, "frontdoor").read_text().strip()
    client = aioredis.Redis(port=port, username="frontdoor", password=password, socket_connect_timeout=0.2)
    clock = Clock(11_000_000 * WINDOW)
    limiter = BatchedLimiter(client, WINDOW, 0.1, clock)
    server = None
    try:
        assert sum(limiter.check("AKIA15", 10).admitted for _ in range(2)) == 2
        await limiter.sync()  # Redis is down
        assert limiter.failures == 1
        server = start_redis(tmp_path, redis_secrets, port=port)
        await limiter.sync()  # no request since, but admissions to add
        with server.admin() as admin:
            current, _ = counter_keys("key", "AKIA15", WindowPosition.at(clock.now, WINDOW))
            assert int(admin.get(current)) == 2
    finally:
        await client.aclose()
        if server is not None:
            server.stop()


async def test_a_stale_key_with_redis_down_is_decided_locally_after_one_try(redis_secrets, tmp_path):  # noqa: F811
    server = start_redis(tmp_path, redis_secrets)
    password = redis_password_file(redis_secrets, "frontdoor").read_text().strip()
    client = aioredis.Redis(port=server.port, username="frontdoor", password=password, socket_connect_timeout=0.2)
    limiter = BatchedLimiter(client, WINDOW, 0.1, Clock(12_000_000 * WINDOW))
    try:
        assert (await limiter.admit("AKIA16", 3)).admitted
        assert (await limiter.admit("AKIA16b", 3)).admitted
        await limiter.sync()
        await limiter.sync()  # idle: stale
        server.stop()
        assert [(await limiter.admit("AKIA16", 3)).admitted for _ in range(3)] == [True, True, False]
        assert (await limiter.admit("AKIA16b", 3)).admitted
        assert limiter.failures == 1  # one read tried; then the local counts decide, as after a failed sync
    finally:
        await client.aclose()
        server.stop()


async def test_the_sync_task_rests_while_idle_and_a_request_wakes_it(frontdoor_redis, redis_server):  # noqa: F811
    from tests.support.polling import eventually

    clock = Clock(13_000_000 * WINDOW)
    limiter = BatchedLimiter(frontdoor_redis, WINDOW, 0.05, clock)
    current, _ = counter_keys("key", "AKIA17", WindowPosition.at(clock.now, WINDOW))

    def counted() -> int:
        with redis_server.admin() as admin:
            return int(admin.get(current) or 0)

    task = asyncio.create_task(limiter.run())
    try:
        await limiter.admit("AKIA17", 10)
        await eventually(lambda: counted() == 1, timeout=5, interval=0.05, what="the first admission synced")
        await eventually(lambda: limiter.resting, timeout=5, interval=0.05, what="an idle limiter resting")
        await limiter.admit("AKIA17", 10)  # read again (stale), decided, and the sync task woken
        await eventually(lambda: counted() == 2, timeout=5, interval=0.05, what="the woken task synced it")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_keys_verdict_is_the_sliding_windows_whatever_the_counts():
    # check() writes the window position, the estimate and the verdict out for an admission: the
    # verdicts must be those of WindowPosition.at, estimate and verdict_of, refused ones included.
    rng = random.Random(15)
    for _ in range(20_000):
        window = rng.choice([1, 7, 60, 3600])
        now = rng.uniform(1.7e9, 1.8e9)
        limit = rng.choice([1, 2, 10, 100, 1000, rng.randint(1, 10_000)])
        current, previous = rng.randint(0, 2 * limit), rng.randint(0, 2 * limit)
        position = WindowPosition.at(now, window)
        limiter = BatchedLimiter(None, window, 0.1, clock=lambda now=now: now)
        limiter._counts["AKIA"] = _Counts(position.index, current, previous)
        admit = estimate(current, previous, position.elapsed, window) < limit
        expected = verdict_of(admit, limit, current + admit, previous, position, window)
        assert limiter.check("AKIA", limit) == expected
        assert limiter._counts["AKIA"].pending == int(admit)


def test_a_request_is_decided_without_a_coroutine_only_when_admit_would_not_read():
    # Security asks admit_known first and awaits admit only on None: a key this process has not
    # seen, or whose counts went stale while it rested, must get None (its counts are read first).
    clock = Clock(4_000_000 * WINDOW + 30.0)
    limiter = BatchedLimiter(None, WINDOW, 0.1, clock)
    assert limiter.admit_known("AKIA20", 5) is None
    assert "AKIA20" not in limiter._counts  # nothing made up for it: admit still reads
    limiter._counts["AKIA20"] = _Counts(int(clock() // WINDOW), current=2)
    assert limiter.admit_known("AKIA20", 5) == Verdict(True, 5, 2, WINDOW)
    limiter._rest()  # what a sync with no request since the last does: every key's counts go stale
    assert limiter.resting
    assert limiter.admit_known("AKIA20", 5) is None
