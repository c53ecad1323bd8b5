"""Revoking every session of a user: the admin JSON API and ``webui-host sessions revoke``."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from tests.e2e.conftest import log_in
from tests.support.stack import ADMIN_USER, NORMAL_USER
from webui_host.cli import main

pytestmark = pytest.mark.slow


def revoke_path(user_id: str) -> str:
    return f"/api/admin/users/{user_id}/revoke"


async def logged_in(session: aiohttp.ClientSession) -> bool:
    async with session.post("/server/login-check") as answer:
        return (await answer.json())["authenticated"]


@pytest.fixture
async def user_session(stack):
    async with aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        await log_in(session, NORMAL_USER)
        yield session


async def test_a_platform_admin_revokes_every_session_of_a_user(stack, user_session, admin):
    async with aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as second:
        await log_in(second, NORMAL_USER)  # a second browser of the same user
        async with admin.post(revoke_path(NORMAL_USER[0])) as answer:
            assert answer.status == 200, await answer.text()
            body = await answer.json()
        # Two here, and any other test's sessions of this user on the shared stack.
        assert body["user_id"] == NORMAL_USER[0] and body["revoked"] >= 2
        assert not await logged_in(second)
    assert not await logged_in(user_session)
    async with user_session.get("/func/auth?echo=revoked") as answer:
        assert answer.status == 401
    assert await logged_in(admin)  # only that user's sessions


async def test_only_admins_may_revoke(stack, user_session, visitor):
    async with user_session.post(revoke_path(ADMIN_USER[0])) as answer:
        assert answer.status == 403
        assert (await answer.json())["type"].endswith("generic-forbidden")
    async with visitor.post(revoke_path(NORMAL_USER[0])) as answer:
        assert answer.status == 401
    assert await logged_in(user_session)


async def test_the_cli_revokes_through_the_hosts_session_daemon(stack, user_session, capsys):
    # In a thread: the command runs its own event loop, as it does from a shell.
    status = await asyncio.to_thread(main, ["sessions", "revoke", NORMAL_USER[0], "-f", str(stack.config_path)])
    out, err = capsys.readouterr()
    assert status == 0, err
    answer = json.loads(out)
    assert answer["user_id"] == NORMAL_USER[0] and answer["revoked"] >= 1
    assert not await logged_in(user_session)


def test_the_cli_says_when_no_daemon_answers(tmp_path, capsys):
    config = tmp_path / "webui-host.toml"
    config.write_text(f'[runtime]\nstate_dir = "{tmp_path / "state"}"\n')
    (tmp_path / "state" / "secrets").mkdir(parents=True, mode=0o700)
    (tmp_path / "state" / "secrets" / "zmq.key").write_text("00" * 32 + "\n")
    (tmp_path / "state" / "secrets" / "zmq.key").chmod(0o600)
    assert main(["sessions", "revoke", "nobody@example.com", "-f", str(config)]) == 1
    assert "did not answer" in capsys.readouterr().err
