"""A real redis-server with the production ACL users (one per test module), the devstack Manager, and a
session daemon on a real ROUTER socket with its client (tests/session_daemon/harness.py)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import AsyncIterator

import pytest
import uvloop
from aiohttp import web

from devstack.app import create_app
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import ensure_secrets
from session_daemon.service import SessionDaemon
from tests.session_daemon.harness import DaemonClient, FakeManager, Running, daemon_settings
from tests.support.servers import RedisHandle, start_redis


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict:
    # The daemon runs on uvloop (service_runtime.process), whose create_connection takes fewer options
    # than asyncio's; its Manager client's wire tests run on both.
    if item.path.name == "test_manager_client.py":
        return {"uvloop": uvloop.new_event_loop, "asyncio": asyncio.new_event_loop}
    return {"uvloop": uvloop.new_event_loop}


@pytest.fixture(scope="module")
def redis_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    secrets_dir = tmp_path_factory.mktemp("secrets") / "secrets"
    ensure_secrets(secrets_dir)
    return secrets_dir


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory, redis_secrets: Path):
    handle = start_redis(tmp_path_factory.mktemp("redis"), redis_secrets)
    yield handle
    handle.stop()


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


@pytest.fixture
async def start_daemon(ipc_dir: Path):
    started: list[Running] = []

    async def start(redis_handle: RedisHandle, endpoints: list[str]) -> Running:
        settings = daemon_settings(redis_handle, endpoints, ipc_dir)
        daemon = SessionDaemon(settings, instruments=Instruments())
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
