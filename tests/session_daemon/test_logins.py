"""The daemon's logins (session_daemon/logins.py) end to end: password and failed-login counter, the
Manager's answers, the secrets that must not leak."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

import pytest

from contract.redis_layout import (
    SessionRecord,
    login_history_key,
    secret_key,
    session_hash,
    session_key,
    user_index_key,
)
from contract.session_commands import Login, Logout, UpdatePassword
from contract.session_results import (
    LoginBlocked,
    LoginSucceeded,
    ManagerUnavailable,
    PasswordChanged,
    SessionReply,
)
from service_runtime.jsonlog import JsonFormatter
from tests.session_daemon.harness import (
    ADMIN,
    ADMIN_ACCESS_KEY,
    ADMIN_PASSWORD,
    ADMIN_SECRET,
    ALLOWED_FAILS,
    BLOCK_TIME,
    MAX_AGE,
    USER,
    USER_PASSWORD,
    WRONG_PASSWORD,
    FakeManager,
    Running,
    all_stored_bytes,
    history_of,
)
from tests.support.ports import free_port

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


async def test_wrong_password_is_refused_and_counted(env: Running) -> None:
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


async def test_unreachable_manager_is_reported_fast_and_not_counted(redis_server, start_daemon) -> None:
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


# ---- update-password-no-auth ----


async def test_update_password_no_auth(env: Running) -> None:
    wrong = await env.client.call(UpdatePassword(USER, "nope", "N3w-pass"))
    assert wrong == WRONG_PASSWORD
    assert history_of(env.admin, USER)["login_fail_count"] == 1

    ok = await env.client.call(UpdatePassword(USER, USER_PASSWORD, "N3w-pass"))
    assert isinstance(ok, PasswordChanged) and datetime.fromisoformat(ok.changed_at)
    assert isinstance(await env.client.login(USER, "N3w-pass"), LoginSucceeded)


async def test_update_password_with_the_manager_unreachable(redis_server, start_daemon) -> None:
    running = await start_daemon(redis_server, [f"http://127.0.0.1:{free_port()}"])
    result = await running.client.call(UpdatePassword(USER, "a", "b"))
    assert result == ManagerUnavailable("Cannot connect to the Manager.")
