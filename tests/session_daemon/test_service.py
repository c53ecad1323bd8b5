"""The session daemon end to end: real redis-server with ACL users, the devstack Manager, the real ROUTER socket."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, AsyncIterator

import pytest
import redis
import redis.asyncio as aioredis
import zmq
import zmq.asyncio
from aiohttp import web

from contract.config import parse_config
from contract.host_layout import AT_REST_KEY_FILE, ZMQ_KEY_FILE
from contract.messages import MessageOpener, MessageSealer
from contract.redis_layout import (
    EVENTS_CHANNEL,
    SecretBox,
    SessionRecord,
    login_history_key,
    secret_key,
    session_hash,
    session_key,
    user_index_key,
)
from contract.requests import SESSION
from contract.session_commands import (
    Forwarded,
    Login,
    Logout,
    RevokeUser,
    SessionCommand,
    SessionRequest,
    Touch,
    UpdatePassword,
)
from contract.session_results import (
    LoggedOut,
    LoginBlocked,
    LoginSucceeded,
    ManagerRefused,
    ManagerUnavailable,
    PasswordChanged,
    SessionReply,
    SessionResult,
    SessionUnknown,
    StoreUnavailable,
    Touched,
    UserRevoked,
)
from devstack.app import create_app
from service_runtime.jsonlog import JsonFormatter
from service_runtime.keyfiles import load_secret_box, load_shared_key
from service_runtime.redis_client import read_redis_password
from service_runtime.settings import Settings
from session_daemon.service import SessionDaemon
from tests.support.ports import free_port
from tests.support.servers import RedisHandle, start_redis

ADMIN, ADMIN_PASSWORD = "admin@lablup.com", "wJalrXUt"
ADMIN_ACCESS_KEY, ADMIN_SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
USER, USER_PASSWORD = "user@lablup.com", "C8qnIo29"
MAX_AGE = 3600
BLOCK_TIME = 1200
ALLOWED_FAILS = 3
PROBS = "https://api.backend.ai/probs/"
WRONG_PASSWORD = ManagerRefused(
    401, PROBS + "auth-failed", "Credential/signature mismatch.", "User credential mismatch."
)


# ---- Manager stand-in ----


@dataclass
class FakeManager:
    url: str
    app: web.Application
    seen_headers: list[dict[str, str]]


@pytest.fixture
async def manager() -> AsyncIterator[FakeManager]:
    app = create_app(max_password_age=timedelta(days=90))
    seen: list[dict[str, str]] = []

    async def remember_headers(request: web.Request, _response: web.StreamResponse) -> None:
        seen.append(dict(request.headers))

    app.on_response_prepare.append(remember_headers)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield FakeManager(f"http://{host}:{port}", app, seen)
    await runner.cleanup()


# ---- daemon and its client ----


@pytest.fixture
def ipc_dir() -> Path:
    # Unix socket paths must stay under ~107 bytes: pytest's tmp_path can be too long.
    path = Path(tempfile.mkdtemp(prefix="sd-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def daemon_settings(redis_handle: RedisHandle, endpoints: list[str], ipc_dir: Path) -> Settings:
    config = parse_config(
        {
            "api": {"endpoint": endpoints, "connect_timeout": 1.0},
            "session": {
                "redis": {"addr": redis_handle.addr},
                "max_age": MAX_AGE,
                "login_block_time": BLOCK_TIME,
                "login_allowed_fail_count": ALLOWED_FAILS,
            },
            "runtime": {"state_dir": str(ipc_dir / "state"), "secrets_dir": str(redis_handle.secrets_dir)},
            "zmq": {"ipc_dir": str(ipc_dir / "ipc")},
        }
    )
    return Settings(config, endpoints)


class DaemonClient:
    """The front door's side of the hop: a DEALER with the shared key."""

    def __init__(self, settings: Settings, endpoint: str):
        config = settings.config
        key = load_shared_key(config.secrets_dir / ZMQ_KEY_FILE)
        self._context = zmq.asyncio.Context()
        self.socket = self._context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self.sealer = MessageSealer(key, config.zmq.max_message_age)
        self._opener = MessageOpener(key, config.zmq.max_message_age)
        self._rids = itertools.count(1)

    async def exchange(self, kind: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        await self.socket.send_multipart(self.sealer.seal(kind, items))
        frames = await asyncio.wait_for(self.socket.recv_multipart(), 5.0)
        return self._opener.open(frames).items

    async def call_many(self, commands: list[SessionCommand]) -> list[SessionResult]:
        items = [SessionRequest(next(self._rids), command).to_wire() for command in commands]
        replies = [SessionReply.from_wire(item) for item in await self.exchange(SESSION, items)]
        assert [reply.rid for reply in replies] == [item["rid"] for item in items]
        return [reply.result for reply in replies]

    async def call(self, command: SessionCommand) -> SessionResult:
        return (await self.call_many([command]))[0]

    async def login(
        self, username: str = ADMIN, password: str = ADMIN_PASSWORD, extras: dict[str, Any] | None = None
    ) -> SessionResult:
        forwarded = Forwarded("203.0.113.7", "webui.example.com", "https")
        return await self.call(Login(username, password, extras or {}, forwarded))

    def close(self) -> None:
        self.socket.close(linger=0)
        self._context.term()


@dataclass
class Running:
    daemon: SessionDaemon
    client: DaemonClient
    redis: RedisHandle
    admin: redis.Redis
    settings: Settings

    def box(self) -> SecretBox:
        return load_secret_box(self.settings.config.secrets_dir / AT_REST_KEY_FILE)


@pytest.fixture
async def start_daemon(ipc_dir: Path):
    started: list[Running] = []

    async def start(redis_handle: RedisHandle, endpoints: list[str]) -> Running:
        settings = daemon_settings(redis_handle, endpoints, ipc_dir)
        daemon = SessionDaemon(settings)
        await daemon.start()
        running = Running(daemon, DaemonClient(settings, daemon.endpoint), redis_handle, redis_handle.admin(), settings)
        started.append(running)
        return running

    yield start
    for running in started:
        running.client.close()
        running.admin.close()
        await running.daemon.stop()


@pytest.fixture
async def env(redis_server: RedisHandle, manager: FakeManager, start_daemon) -> Running:
    with redis_server.admin() as admin:
        admin.flushall()
    return await start_daemon(redis_server, [manager.url])


def all_stored_bytes(admin: redis.Redis) -> list[bytes]:
    """Every key name and value in Redis, whatever its type."""
    stored: list[bytes] = []
    for key in admin.scan_iter(count=1000):
        stored.append(key)
        kind = admin.type(key)
        if kind == b"string":
            stored.append(admin.get(key))
        elif kind == b"set":
            stored.extend(admin.smembers(key))
        elif kind == b"zset":
            stored.extend(admin.zrange(key, 0, -1))
        else:
            raise AssertionError(f"unexpected key type {kind!r} for {key!r}")
    return stored


def history_of(admin: redis.Redis, username: str) -> dict[str, Any] | None:
    raw = admin.get(login_history_key(username))
    return json.loads(raw) if raw is not None else None


# ---- login ----


async def test_login_success_stores_session_and_sealed_secret(env: Running) -> None:
    result = await env.client.login()
    assert isinstance(result, LoginSucceeded)
    assert (result.access_key, result.role, result.status) == (ADMIN_ACCESS_KEY, "superadmin", "active")
    assert len(result.session_id) == 32
    digest = session_hash(result.session_id)

    raw_session = env.admin.get(session_key(digest))
    record = SessionRecord.from_json(raw_session)
    assert (record.user_id, record.access_key, record.role, record.status) == (
        ADMIN,
        ADMIN_ACCESS_KEY,
        "superadmin",
        "active",
    )
    assert record.expires_at == pytest.approx(record.created_at + MAX_AGE)
    assert record.preferences == {}
    for key in (session_key(digest), secret_key(digest), user_index_key(ADMIN)):
        assert MAX_AGE - 5 <= env.admin.ttl(key) <= MAX_AGE
    assert env.admin.smembers(user_index_key(ADMIN)) == {digest.encode()}

    # The secret exists only sealed: nowhere in Redis in clear, nor in the reply; the signer's box opens it.
    assert env.box().open(digest, env.admin.get(secret_key(digest))).secret_key == ADMIN_SECRET
    stored = all_stored_bytes(env.admin)
    assert not any(ADMIN_SECRET.encode() in blob for blob in stored)
    assert not any(result.session_id.encode() in blob for blob in stored)
    assert ADMIN_SECRET not in json.dumps(SessionReply(1, result).to_wire())

    assert history_of(env.admin, ADMIN)["login_fail_count"] == 0
    assert 0 < env.admin.ttl(login_history_key(ADMIN)) <= BLOCK_TIME


async def test_login_sends_manager_headers_and_keeps_our_fields(env: Running, manager: FakeManager) -> None:
    # Browser extras must not replace type/domain/username/password (domain "other" would fail).
    result = await env.client.login(extras={"domain": "other", "type": "jwt", "username": USER, "otp": "123456"})
    assert isinstance(result, LoginSucceeded) and result.access_key == ADMIN_ACCESS_KEY
    headers = manager.seen_headers[-1]
    assert headers["X-Forwarded-For"] == "203.0.113.7"
    assert headers["X-Forwarded-Host"] == "webui.example.com"
    assert headers["X-Forwarded-Proto"] == "https"
    assert headers["X-BackendAI-Version"] == "v7.20230615"
    assert headers["X-BackendAI-Domain"] == "default"
    assert headers["User-Agent"] == "webui-host/0.1"
    assert datetime.fromisoformat(headers["Date"]).utcoffset() == timedelta(0)


async def test_wrong_password_is_401_and_counted(env: Running) -> None:
    for expected_count in (1, 2):
        result = await env.client.login(password="wrong")
        assert result == WRONG_PASSWORD
        assert history_of(env.admin, ADMIN)["login_fail_count"] == expected_count
    assert not env.admin.exists(user_index_key(ADMIN))
    # A success resets the counter.
    assert isinstance(await env.client.login(), LoginSucceeded)
    assert history_of(env.admin, ADMIN)["login_fail_count"] == 0


async def test_blocked_after_allowed_failures_even_with_right_password(env: Running) -> None:
    for _ in range(ALLOWED_FAILS):
        assert await env.client.login(password="wrong") == WRONG_PASSWORD
    before = history_of(env.admin, ADMIN)["last_login_attempt"]
    result = await env.client.login()  # right password, but blocked
    assert result == LoginBlocked(BLOCK_TIME)
    history = history_of(env.admin, ADMIN)
    assert history["login_fail_count"] == ALLOWED_FAILS
    assert history["last_login_attempt"] > before  # the refused attempt moved the window
    assert not env.admin.exists(user_index_key(ADMIN))


async def test_parallel_guesses_cannot_exceed_the_allowed_count(env: Running) -> None:
    guesses = [Login(ADMIN, f"guess-{n}") for n in range(8)]
    results = await env.client.call_many(guesses)
    assert sorted(type(result).__name__ for result in results) == sorted(
        ["ManagerRefused"] * ALLOWED_FAILS + ["LoginBlocked"] * (8 - ALLOWED_FAILS)
    )


async def test_unreachable_manager_is_502_fast_and_not_counted(redis_server, start_daemon) -> None:
    with redis_server.admin() as admin:
        admin.flushall()
    running = await start_daemon(redis_server, [f"http://127.0.0.1:{free_port()}"])
    started = time.monotonic()
    result = await running.client.login()
    assert time.monotonic() - started < 2.0
    assert result == ManagerUnavailable("Cannot connect to the Manager.")
    assert history_of(running.admin, ADMIN) is None


async def test_next_endpoint_is_tried_when_the_first_is_down(redis_server, manager, start_daemon) -> None:
    running = await start_daemon(redis_server, [f"http://127.0.0.1:{free_port()}", manager.url])
    assert isinstance(await running.client.login(), LoginSucceeded)
    assert isinstance(await running.client.login(), LoginSucceeded)  # now straight to the endpoint that answered


async def test_logs_hold_no_secret_password_or_session_id(env: Running, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    await env.client.login(password="wrong-Pa55word")
    ok = await env.client.login()
    await env.client.call(Logout(ok.session_id))
    formatter = JsonFormatter("session_daemon")
    lines = "\n".join(formatter.format(record) for record in caplog.records)
    events = [record.__dict__.get("event") for record in caplog.records]
    assert {"login_failed", "session_create", "session_revoke"} <= set(events)
    for forbidden in (ADMIN_SECRET, ADMIN_PASSWORD, "wrong-Pa55word", ok.session_id, session_hash(ok.session_id)):
        assert forbidden not in lines


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


async def test_touch_unknown_or_overdue_session_is_401(env: Running) -> None:
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


# ---- update-password-no-auth ----


async def test_update_password_no_auth(env: Running) -> None:
    wrong = await env.client.call(UpdatePassword(USER, "nope", "N3w-pass"))
    assert wrong == WRONG_PASSWORD
    assert history_of(env.admin, USER)["login_fail_count"] == 1

    ok = await env.client.call(UpdatePassword(USER, USER_PASSWORD, "N3w-pass"))
    assert isinstance(ok, PasswordChanged) and datetime.fromisoformat(ok.changed_at)
    assert isinstance(await env.client.login(USER, "N3w-pass"), LoginSucceeded)


async def test_update_password_unreachable_manager_is_502(redis_server, start_daemon) -> None:
    running = await start_daemon(redis_server, [f"http://127.0.0.1:{free_port()}"])
    result = await running.client.call(UpdatePassword(USER, "a", "b"))
    assert result == ManagerUnavailable("Cannot connect to the Manager.")


# ---- Redis outage ----


async def test_redis_outage_is_503_then_recovers(tmp_path: Path, redis_secrets: Path, manager, start_daemon) -> None:
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
