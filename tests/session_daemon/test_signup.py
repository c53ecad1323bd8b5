"""The daemon's ``signup`` operation against the devstack Manager: the secret key stops here."""

from __future__ import annotations

import json
import logging

import pytest
from aiohttp import web

from contract.config import parse_config
from contract.session_commands import Forwarded, Signup
from contract.session_results import ManagerRefused, ManagerUnavailable, SessionReply, SignedUp
from devstack.app import create_app
from service_runtime.jsonlog import JsonFormatter
from session_daemon.manager_client import ManagerClient
from session_daemon.signup import signup

PASSWORD = "Sign-up-secret-1"


@pytest.fixture
async def manager_url():
    seen: list[dict] = []
    app = create_app()

    async def remember(request: web.Request, _response) -> None:
        if request.path == "/auth/signup":
            seen.append(json.loads(await request.read()))

    app.on_response_prepare.append(remember)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}", seen
    await runner.cleanup()


@pytest.fixture
async def client(manager_url):
    url, _seen = manager_url
    manager = ManagerClient([url], parse_config({"api": {"domain": "default"}}).api)
    await manager.start()
    yield manager
    await manager.close()


# (email, extras, result type, status)
CASES = [
    ("fresh@lablup.com", {"username": "fresh", "domain": "elsewhere"}, SignedUp, 201),
    ("admin@lablup.com", {}, ManagerRefused, 400),
]


@pytest.mark.parametrize("email, extras, kind, status", CASES)
async def test_signup_answers_without_the_secret_key(client, manager_url, caplog, email, extras, kind, status):
    caplog.set_level(logging.INFO)
    result = await signup(client, Signup(email, PASSWORD, extras, Forwarded("127.0.0.1", "h", "http")))
    assert isinstance(result, kind) and result.status == status
    assert "secret_key" not in json.dumps(SessionReply(7, result).to_wire())
    _url, seen = manager_url
    assert seen[-1]["domain"] == "default" and seen[-1]["email"] == email  # ours, not the browser's
    lines = [JsonFormatter("session_daemon").format(record) for record in caplog.records]
    assert all(PASSWORD not in line and "secret_key" not in line for line in lines)


async def test_an_unreachable_manager_is_a_502():
    manager = ManagerClient(["http://127.0.0.1:9"], parse_config({"api": {"connect_timeout": 0.5}}).api)
    await manager.start()
    try:
        result = await signup(manager, Signup("a@b.co", PASSWORD))
    finally:
        await manager.close()
    assert result == ManagerUnavailable("Cannot connect to the Manager.")
