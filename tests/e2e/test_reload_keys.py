"""SIGHUP reload applies what it reports: one row per setting a component copies at start, through a
real SIGHUP (``supervisorctl signal HUP``) to the real processes of one stack.

Each row first shows the old value in effect, then rewrites the file, sends SIGHUP to every process,
waits for each to log its reload, and shows the new value in effect; the file is then restored.  The
settings read at each use (timeouts, CSP, limits per request, ...) are covered by
``test_ops.py::test_sighup_reloads_timeouts_without_restarting_anything`` and the key table in
``tests/service_runtime/test_reload_keys.py``.  The connect-timeout rows end the module: they leave
the Manager unreachable.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time

import aiohttp
import pytest
from yarl import URL

from contract.account_names import account_key
from contract.redis_layout import SessionRecord, login_history_key, session_hash, session_key
from tests.support.blackhole import Blackhole
from tests.support.polling import eventually, eventually_sync
from tests.support.ports import free_port
from tests.support.reloads import sighup, with_keys
from tests.support.stack import ADMIN_USER, RunningStack

pytestmark = pytest.mark.slow
GONE_ORIGIN = "https://gone.example"
BASE = {
    "api": {"endpoint": None, "connect_timeout": "10.0"},  # endpoint: the forwarder, set by the fixture
    "session": {"max_age": "3600", "touch_interval": "3600.0"},
    "security": {"cors_allowed_origins": f'["{GONE_ORIGIN}"]'},
    "security.rate_limit": {"enabled": "false"},
}


@pytest.fixture(scope="module")
def manager():
    """The development Manager, started here: the stack reaches it through a forwarder."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def listening():
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    eventually_sync(listening, timeout=30, what="the development Manager listening")
    yield port
    process.terminate()
    process.wait(10)


@pytest.fixture(scope="module")
def hole(manager):
    forwarder = Blackhole(manager)
    yield forwarder
    forwarder.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, hole):
    running = RunningStack(tmp_path_factory.mktemp("reload"), signers=1)
    base = BASE | {"api": BASE["api"] | {"endpoint": f'"http://127.0.0.1:{hole.port}"'}}
    running.config_path.write_text(with_keys(running.config_path.read_text(), base))
    running.base_text = running.config_path.read_text()
    running.start()
    yield running
    running.stop()


@pytest.fixture
async def client(stack):
    async with aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def reload_with(stack, changes: dict[str, dict[str, str]]) -> dict[str, dict]:
    return await sighup(stack, with_keys(stack.base_text, changes))


@pytest.fixture
async def restore(stack):
    yield
    if stack.config_path.read_text() != stack.base_text:
        await sighup(stack, stack.base_text)


async def log_in(client, user=ADMIN_USER) -> aiohttp.ClientResponse:
    client.cookie_jar.clear()  # a probe runs before and after the reload: a new session each time
    async with client.post("/server/login", json={"username": user[0], "password": user[1]}) as answer:
        answer.text_read = await answer.text()
        return answer


# ---- probes: each says whether the row's new value is in effect ----


async def gone_origin_refused(stack, client) -> bool:
    async with client.get("/server/login-check", headers={"Origin": GONE_ORIGIN}) as answer:
        return "Access-Control-Allow-Origin" not in answer.headers


async def sessions_live_two_minutes(stack, client) -> bool:
    answer = await log_in(client)
    assert answer.status == 200, answer.text_read
    cookie = client.cookie_jar.filter_cookies(URL(stack.base_url))[stack.config.session.cookie_name].value
    return 0 < stack.admin_redis().ttl(session_key(session_hash(cookie))) <= 120


async def one_failure_blocks(stack, client) -> bool:
    username = "reload-one@lablup.com"
    stack.admin_redis().delete(login_history_key(account_key(username)))
    statuses = [(await log_in(client, (username, "wrong"))).status for _ in range(2)]
    return statuses[0] != 429 and statuses[1] == 429  # a refusal (200 with authenticated false), then blocked


async def block_lasts_seven_seconds(stack, client) -> bool:
    username = "reload-block@lablup.com"
    key = login_history_key(account_key(username))
    stack.admin_redis().delete(key)
    for _ in range(4):  # past the allowed failures (3)
        await log_in(client, (username, "wrong"))
    return 0 < stack.admin_redis().ttl(key) <= 7


async def touched_within_a_second(stack, client) -> bool:
    answer = await log_in(client)
    assert answer.status == 200, answer.text_read
    cookie = client.cookie_jar.filter_cookies(URL(stack.base_url))[stack.config.session.cookie_name].value
    redis_key = session_key(session_hash(cookie))
    first = SessionRecord.from_json(stack.admin_redis().get(redis_key)).last_accessed
    await asyncio.sleep(1.2)
    async with client.get("/func/auth?echo=touch") as answer:
        assert answer.status == 200

    def touched():
        return SessionRecord.from_json(stack.admin_redis().get(redis_key)).last_accessed > first

    try:
        return bool(await eventually(touched, timeout=2.0))
    except AssertionError:
        return False


async def window_is_seven_seconds(stack, client) -> bool:
    answer = await log_in(client)
    return answer.headers.get("X-RateLimit-Window") == "7"


async def third_request_limited(stack, client) -> bool:
    answer = await log_in(client)
    assert answer.status == 200, answer.text_read
    statuses = []
    for _ in range(3):
        async with client.get("/func/auth?echo=limit") as answer:
            statuses.append(answer.status)
    return statuses[-1] == 429


async def silent_connection_closed_within_two_seconds(stack, client) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.ports.frontdoor)
    try:
        await asyncio.wait_for(reader.read(), timeout=2.5)  # until the server closes it
        return True
    except TimeoutError:
        return False
    finally:
        writer.close()


ROWS = [
    ("security.cors_allowed_origins", {"security": {"cors_allowed_origins": "[]"}}, gone_origin_refused),
    ("session.max_age", {"session": {"max_age": "120"}}, sessions_live_two_minutes),
    ("session.login_allowed_fail_count", {"session": {"login_allowed_fail_count": "1"}}, one_failure_blocks),
    ("session.login_block_time", {"session": {"login_block_time": "7"}}, block_lasts_seven_seconds),
    ("session.touch_interval", {"session": {"touch_interval": "1.0"}}, touched_within_a_second),
    ("security.rate_limit.window", {"security.rate_limit": {"window": "7"}}, window_is_seven_seconds),
    (
        "security.rate_limit.enabled",
        {"security.rate_limit": {"enabled": "true", "requests": "2"}},
        third_request_limited,
    ),
    (
        "security.header_read_timeout",
        {"security": {"header_read_timeout": "1.0"}},
        silent_connection_closed_within_two_seconds,
    ),
]


@pytest.mark.parametrize(("key", "changes", "in_effect"), ROWS, ids=[row[0] for row in ROWS])
async def test_a_reloaded_key_takes_effect_in_every_process(stack, client, restore, key, changes, in_effect):
    assert not await in_effect(stack, client), f"{key}: the new value is in effect before the reload"
    events = await reload_with(stack, changes)
    reported = key if key.count(".") == 1 else key.rsplit(".", 1)[0]
    for name, event in events.items():
        assert event["status"] == "success" and reported in event["changed"], (name, event)
    assert await eventually(lambda: in_effect(stack, client), timeout=10, what=f"{key} in effect")


async def test_keys_a_process_cannot_apply_live_are_reported_as_needing_a_restart(stack, restore):
    events = await reload_with(stack, {"api": {"ssl_verify": "false"}, "security": {"keepalive_timeout": "30.0"}})
    for name, event in events.items():
        assert {"api.ssl_verify", "security.keepalive_timeout"} <= set(event["needs_restart"]), (name, event)
        assert not {"api.ssl_verify", "security.keepalive_timeout"} & set(event["changed"]), (name, event)


# ---- last: these leave the Manager unreachable ----


async def test_connect_timeout_reaches_the_front_doors_proxy(stack, client, hole):
    answer = await log_in(client)
    assert answer.status == 200, answer.text_read
    await reload_with(stack, {"api": {"connect_timeout": "0.5"}})
    hole.swallow()
    started = time.monotonic()
    async with client.get("/func/auth?echo=hole") as answer:
        elapsed = time.monotonic() - started
        # With the start value (10 s) the 2 s response deadline would end it first, as a 504.
        assert answer.status == 502 and elapsed < 1.8, (answer.status, elapsed)


async def test_connect_timeout_reaches_the_session_daemons_logins(stack, client, hole):
    await reload_with(stack, {"api": {"connect_timeout": "0.5"}})
    if not hole.swallowed:
        hole.swallow()
    started = time.monotonic()
    answer = await log_in(client)
    elapsed = time.monotonic() - started
    assert answer.status >= 500 and elapsed < 3.0, (answer.status, elapsed)
