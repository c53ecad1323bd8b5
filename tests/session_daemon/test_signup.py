"""The daemon's ``signup`` operation against the devstack Manager: the secret key stops here."""

from __future__ import annotations

import json
import logging

import pytest
from aiohttp import web

from contract.config import parse_config
from devstack.app import create_app
from service_runtime.jsonlog import JsonFormatter
from session_daemon.manager_client import Forwarded, ManagerClient
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


# (email, extras, status, body keys)
CASES = [
    ("fresh@lablup.com", {"username": "fresh", "domain": "elsewhere"}, 201, {"access_key"}),
    ("admin@lablup.com", {}, 400, {"type", "title", "msg"}),
]


@pytest.mark.parametrize("email, extras, status, keys", CASES)
async def test_signup_answers_without_the_secret_key(client, manager_url, caplog, email, extras, status, keys):
    caplog.set_level(logging.INFO)
    result = await signup(client, 7, email, PASSWORD, extras, Forwarded("127.0.0.1", "h", "http"))
    assert result.rid == 7 and result.status == status
    assert set(result.body) <= keys and "secret_key" not in json.dumps(result.body)
    _url, seen = manager_url
    assert seen[-1]["domain"] == "default" and seen[-1]["email"] == email  # ours, not the browser's
    lines = [JsonFormatter("session_daemon").format(record) for record in caplog.records]
    assert all(PASSWORD not in line and "secret_key" not in line for line in lines)


async def test_an_unreachable_manager_is_a_502():
    manager = ManagerClient(["http://127.0.0.1:9"], parse_config({"api": {"connect_timeout": 0.5}}).api)
    await manager.start()
    try:
        result = await signup(manager, 1, "a@b.co", PASSWORD, {}, Forwarded())
    finally:
        await manager.close()
    assert result.status == 502 and "bad-gateway" in result.body["type"]
