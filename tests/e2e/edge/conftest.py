"""One real stack for the hostile-client suites: one front-door worker with short connection
timeouts and a small header limit, so each bound can be crossed quickly."""

from __future__ import annotations

import socket

import aiohttp
import pytest

from tests.support.stack import RunningStack

HEADER_READ_TIMEOUT = 1.0
KEEPALIVE_TIMEOUT = 2.0
MAX_HEADER_SIZE = 2048
ALLOWED_FAILS = 3  # tests.support.stack's [session] login_allowed_fail_count
PROBS = "https://api.backend.ai/probs/"


@pytest.fixture(scope="package")
def edge_stack(tmp_path_factory):
    extra = (
        f"\n[security]\nheader_read_timeout = {HEADER_READ_TIMEOUT}\nkeepalive_timeout = {KEEPALIVE_TIMEOUT}\n"
        f"max_header_size = {MAX_HEADER_SIZE}\n"
    )
    running = RunningStack(tmp_path_factory.mktemp("edge"), extra_config=extra, signers=1).start()
    yield running
    running.stop()


@pytest.fixture
async def edge_client(edge_stack):
    async with aiohttp.ClientSession(edge_stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def log_in(session: aiohttp.ClientSession, user: tuple[str, str]) -> None:
    async with session.post("/server/login", json={"username": user[0], "password": user[1]}) as response:
        assert response.status == 200, await response.text()


def raw_socket(stack) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", stack.ports.frontdoor), timeout=10)
    sock.settimeout(0.2)
    return sock
