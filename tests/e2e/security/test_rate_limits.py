"""Rate limits through the real stack: per access key with per-role overrides, per client IP on login,
counted in Redis and shared by both front-door workers."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.e2e.security.conftest import LOGIN_LIMIT, MONITOR_LIMIT, fresh_address, log_in
from tests.support.polling import eventually
from tests.support.stack import ADMIN_USER

pytestmark = pytest.mark.slow
MONITOR_USER = ("monitor@lablup.com", "7tuEwF1J")


# Front doors sync their access-key counts every [security.rate_limit] sync_interval (0.1 s): waiting
# longer than that between requests makes every request see every earlier one, whichever worker
# served it.
AFTER_A_SYNC = 0.3
WINDOW = 60  # [security.rate_limit] window: the counts are per fixed window, weighed across its end
# A test counting up to a limit must not cross a window's end: in the next window the earlier count
# weighs less than 1, and a request the test expects refused is rightly admitted.
TIME_A_TEST_TAKES = 15


async def reset_counters(stack) -> None:
    await eventually(
        lambda: time.time() % WINDOW < WINDOW - TIME_A_TEST_TAKES, timeout=WINDOW, what="a window with time left"
    )
    owner = stack.admin_redis()
    keys = owner.keys("ratelimit:*")
    if keys:
        owner.delete(*keys)
    await asyncio.sleep(AFTER_A_SYNC)  # the workers' next sync reads the empty counters


def key_admissions_in_redis(stack) -> int:
    """Admissions of access keys the workers have synced to Redis (every window's counter)."""
    owner = stack.admin_redis()
    return sum(int(value or 0) for value in owner.mget(owner.keys("ratelimit:key:*") or ["-"]))


async def test_access_key_limit_is_shared_by_every_worker(secure_stack):
    await reset_counters(secure_stack)
    # A new connection per request: the kernel spreads them over both workers (SO_REUSEPORT).
    async with secure_stack.client(new_connection_each_time=True) as monitor:
        await log_in(monitor, MONITOR_USER)
        answers = []
        for i in range(MONITOR_LIMIT + 3):
            async with monitor.get(f"/func/auth?echo={i}") as response:
                answers.append((response.status, dict(response.headers), await response.json()))
            await asyncio.sleep(AFTER_A_SYNC)
    statuses = [status for status, _, _ in answers]
    assert statuses == [200] * MONITOR_LIMIT + [429] * 3, statuses
    remaining = [int(headers["X-RateLimit-Remaining"]) for _, headers, _ in answers[:MONITOR_LIMIT]]
    assert remaining == list(range(MONITOR_LIMIT - 1, -1, -1))
    _, headers, body = answers[-1]
    assert headers["X-RateLimit-Limit"] == str(MONITOR_LIMIT) and headers["X-RateLimit-Window"] == "60"
    assert headers["X-RateLimit-Remaining"] == "0" and 1 <= int(headers["Retry-After"]) <= 120
    assert headers["Content-Type"].startswith("application/problem+json")
    assert body["type"].endswith("/rate-limit-exceeded") and body["title"] == "Too many requests."


async def test_other_roles_keep_their_own_limit_and_websockets_count(secure_stack, admin):
    await reset_counters(secure_stack)
    async with secure_stack.client() as monitor:
        await log_in(monitor, MONITOR_USER)
        for _ in range(MONITOR_LIMIT):
            async with monitor.ws_connect("/func/stream/echo") as ws:  # a handshake is a request too
                await ws.close()
            await asyncio.sleep(AFTER_A_SYNC)
        # Every handshake synced by the worker that admitted it (slower than a sync interval on a
        # loaded machine), then one more sync for the worker that answers next to read them.
        await eventually(lambda: key_admissions_in_redis(secure_stack) >= MONITOR_LIMIT, what="handshakes counted")
        await asyncio.sleep(AFTER_A_SYNC)
        async with monitor.get("/func/auth?echo=over") as response:
            assert response.status == 429
        for _ in range(MONITOR_LIMIT + 2):  # the superadmin is not held back by the monitor's limit
            async with admin.get("/func/auth?echo=admin") as response:
                assert response.status == 200
                assert response.headers["X-RateLimit-Limit"] == "1000000"


async def test_streamed_responses_carry_the_rate_limit_headers(secure_stack, admin):
    async with admin.get("/func/dev/download?size=300000") as response:  # larger than one buffered answer
        assert response.status == 200 and len(await response.read()) == 300000
        assert int(response.headers["X-RateLimit-Remaining"]) > 0


async def test_login_attempts_are_limited_per_client_address(secure_stack):
    await reset_counters(secure_stack)
    attacker, bystander = fresh_address(), fresh_address()
    async with secure_stack.client() as session:
        statuses = []
        for i in range(LOGIN_LIMIT + 2):
            # A different (unknown) user each time: the per-username lockout never triggers.
            body = {"username": f"nobody{i}@example.com", "password": "guess"}
            async with session.post("/server/login", json=body, headers={"X-Forwarded-For": attacker}) as response:
                statuses.append(response.status)
                last_headers = response.headers
        # Backend.AI 23.09: a refused login is a 200 (authenticated false); the limit then answers 429.
        assert statuses == [200] * LOGIN_LIMIT + [429] * 2, statuses
        assert int(last_headers["Retry-After"]) >= 1
        await log_in(session, ADMIN_USER, address=bystander)  # another address is not affected
    owner = secure_stack.admin_redis()
    key_names = b" ".join(owner.keys("ratelimit:login:*"))
    assert key_names and attacker.encode() not in key_names  # no raw addresses in Redis


async def test_the_form_login_shares_the_address_limit_and_answers_with_a_page(secure_stack):
    await reset_counters(secure_stack)
    address = fresh_address()
    async with secure_stack.client() as session:
        for i in range(LOGIN_LIMIT):
            async with session.post(
                "/server/login",
                json={"username": f"x{i}@example.com", "password": "p"},
                headers={"X-Forwarded-For": address},
            ) as response:
                assert response.status == 200 and (await response.json())["authenticated"] is False
        async with session.post(
            "/ui/login",
            data={"username": ADMIN_USER[0], "password": ADMIN_USER[1]},
            headers={"X-Forwarded-For": address, "Accept": "text/html"},
            allow_redirects=False,
        ) as response:
            assert response.status == 429 and response.content_type == "text/html"
            assert "Set-Cookie" not in response.headers


def test_frontdoor_may_write_counters_but_still_not_sessions_or_secrets(secure_stack):
    import redis

    frontdoor = secure_stack.role_redis("frontdoor")
    assert frontdoor.eval("return redis.call('INCR', KEYS[1])", 1, "ratelimit:probe") >= 1
    owner = secure_stack.admin_redis()
    secret_keys, session_keys = owner.keys("websecret:*"), owner.keys("websession:*")
    assert secret_keys and session_keys
    for script, key in [
        ("return redis.call('GET', KEYS[1])", secret_keys[0]),
        ("return redis.call('SET', KEYS[1], '{}')", session_keys[0]),
        ("return redis.call('DEL', KEYS[1])", session_keys[0]),
        ("return redis.call('GET', '" + secret_keys[0].decode() + "')", b"ratelimit:probe"),
        ("return redis.call('KEYS', '*')", b"ratelimit:probe"),
    ]:
        with pytest.raises(redis.exceptions.ResponseError):  # NoPermissionError is a ResponseError
            frontdoor.eval(script, 1, key)
    for forbidden in (
        lambda: frontdoor.set(session_keys[0], "{}"),
        lambda: frontdoor.get(secret_keys[0]),
        lambda: frontdoor.scan(0),
        lambda: frontdoor.incr(session_keys[0]),
    ):
        with pytest.raises(redis.exceptions.NoPermissionError):
            forbidden()
