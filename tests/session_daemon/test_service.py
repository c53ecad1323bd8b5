"""The session daemon end to end, its session commands (logout, touch, revoke) and a Redis outage: real
redis-server with ACL users, the devstack Manager, the real ROUTER socket.  Logins: test_logins.py;
what every ZeroMQ service promises: tests/service_runtime/test_service_conformance.py."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import redis.asyncio as aioredis

from contract.redis_layout import (
    EVENTS_CHANNEL,
    SessionRecord,
    secret_key,
    session_hash,
    session_key,
    user_index_key,
)
from contract.session_commands import Login, Logout, RevokeUser, Touch
from contract.session_results import (
    LoggedOut,
    LoginSucceeded,
    SessionUnknown,
    StoreUnavailable,
    Touched,
    UserRevoked,
)
from service_runtime.redis_client import read_redis_password
from tests.session_daemon.harness import (
    ADMIN,
    ADMIN_PASSWORD,
    ADMIN_SECRET,
    MAX_AGE,
    USER,
    USER_PASSWORD,
    Running,
)
from tests.support.servers import start_redis

# ---- logout, touch, revoke ----


async def test_logout_deletes_and_publishes(env: Running) -> None:
    login = await env.client.login()
    digest = session_hash(login.session_id)
    config = env.settings.config
    listener = aioredis.Redis(
        port=env.redis.port, username="frontdoor", password=read_redis_password(config, "frontdoor")
    )
    pubsub = listener.pubsub()
    try:
        await pubsub.subscribe(EVENTS_CHANNEL)
        assert (await pubsub.get_message(timeout=2.0))["type"] == "subscribe"
        assert await env.client.call(Logout(login.session_id)) == LoggedOut()
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=2.0)
        assert message is not None and message["data"] == f"session {digest}".encode()
    finally:
        await pubsub.aclose()
        await listener.aclose()
    assert not env.admin.exists(session_key(digest), secret_key(digest))
    assert digest.encode() not in env.admin.smembers(user_index_key(ADMIN))
    # Idempotent.
    assert await env.client.call(Logout(login.session_id)) == LoggedOut()


async def test_touch_slides_expiry(env: Running) -> None:
    login = await env.client.login()
    digest = session_hash(login.session_id)
    before = SessionRecord.from_json(env.admin.get(session_key(digest)))
    for key in (session_key(digest), secret_key(digest), user_index_key(ADMIN)):
        env.admin.expire(key, 50)
    await asyncio.sleep(0.05)

    result = await env.client.call(Touch(login.session_id))
    assert isinstance(result, Touched)
    assert result.expires_at > before.expires_at
    for key in (session_key(digest), secret_key(digest), user_index_key(ADMIN)):
        assert env.admin.ttl(key) > MAX_AGE - 5
    after = SessionRecord.from_json(env.admin.get(session_key(digest)))
    assert after.expires_at == result.expires_at
    assert after.last_accessed > before.last_accessed
    assert after.created_at == before.created_at
    raw_secret = env.admin.get(secret_key(digest))
    assert json.loads(raw_secret)["expires_at"] == result.expires_at
    assert env.box().open(digest, raw_secret).secret_key == ADMIN_SECRET  # still opens: AAD untouched


async def test_touch_of_an_unknown_or_overdue_session(env: Running) -> None:
    assert await env.client.call(Touch("0" * 32)) == SessionUnknown()
    # A record past its expires_at (clock ahead of Redis's TTL) is removed, not revived.
    login = await env.client.login()
    digest = session_hash(login.session_id)
    record = SessionRecord.from_json(env.admin.get(session_key(digest)))
    record.expires_at = time.time() - 1
    env.admin.set(session_key(digest), record.to_json(), ex=60)
    assert await env.client.call(Touch(login.session_id)) == SessionUnknown()
    assert not env.admin.exists(session_key(digest), secret_key(digest))


async def test_revoke_user_removes_all_of_that_users_sessions(env: Running) -> None:
    first, second = await env.client.login(), await env.client.login()
    other = await env.client.login(USER, USER_PASSWORD)
    assert await env.client.call(RevokeUser(ADMIN)) == UserRevoked(2)
    for login in (first, second):
        digest = session_hash(login.session_id)
        assert not env.admin.exists(session_key(digest), secret_key(digest))
        assert await env.client.call(Touch(login.session_id)) == SessionUnknown()
    assert not env.admin.exists(user_index_key(ADMIN))
    assert isinstance(await env.client.call(Touch(other.session_id)), Touched)
    assert await env.client.call(RevokeUser(ADMIN)) == UserRevoked(0)


# ---- Redis outage ----


async def test_redis_outage_is_store_unavailable_then_recovers(
    tmp_path: Path, redis_secrets: Path, manager, start_daemon
) -> None:
    own_redis = start_redis(tmp_path, redis_secrets)
    try:
        running = await start_daemon(own_redis, [manager.url])
        login = await running.client.login()
        assert isinstance(login, LoginSucceeded)
        own_redis.stop()

        started = time.monotonic()
        results = await running.client.call_many(
            [Touch(login.session_id), Login(ADMIN, ADMIN_PASSWORD), Logout(login.session_id)]
        )
        assert time.monotonic() - started < 3.0
        assert results == [StoreUnavailable()] * 3

        own_redis = start_redis(tmp_path, redis_secrets, port=own_redis.port)
        # The restarted server kept the session (its append-only file); the daemon simply works again.
        assert isinstance(await running.client.call(Touch(login.session_id)), Touched)
        assert isinstance(await running.client.login(), LoginSucceeded)
    finally:
        own_redis.stop()
