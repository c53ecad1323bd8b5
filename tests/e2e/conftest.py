"""One real stack per test session: supervisord, Redis, etcd, devstack Manager, daemon, signers, front door."""

from __future__ import annotations

import aiohttp
import pytest

from tests.support.stack import ADMIN_USER, RunningStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    running = RunningStack(tmp_path_factory.mktemp("stack")).start()
    yield running
    running.stop()


@pytest.fixture
async def visitor(stack):
    """A logged-out visitor: its own cookie jar (IP hosts need ``unsafe``)."""
    async with aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def log_in(session: aiohttp.ClientSession, user: tuple[str, str] = ADMIN_USER) -> dict:
    async with session.post("/server/login", json={"username": user[0], "password": user[1]}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


@pytest.fixture
async def admin(visitor):
    await log_in(visitor)
    return visitor


@pytest.fixture(scope="session")
def groups_stack(tmp_path_factory):
    """A stack of its own for Web API Groups: short leases, and an endpoint admin by configuration."""
    from tests.support.stack import RunningStack

    extra = '[etcd]\nlease_ttl = 2\n\n[webapi]\nendpoint_admins = ["user:monitor@lablup.com"]\n'
    running = RunningStack(tmp_path_factory.mktemp("groups"), extra_config=extra).start()
    yield running
    running.stop()


@pytest.fixture
def agents(groups_stack):
    from tests.support.agents import ExtraAgents

    started = ExtraAgents(groups_stack)
    yield started
    started.stop_all()


@pytest.fixture(scope="module")
def chromium():
    """Debian's headless Chromium under Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import launch_chromium

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()


@pytest.fixture
async def client_for(groups_stack):
    """Logged-in clients of the Web API Groups stack, one per call, closed after the test."""
    sessions = []

    async def open_as(user):
        session = aiohttp.ClientSession(groups_stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(session)
        await log_in(session, user)
        return session

    yield open_as
    for session in sessions:
        await session.close()


@pytest.fixture
async def upstream():
    """A deployment upstream on loopback that records what reaches it."""
    from tests.support.upstreams import RecordingServer

    with RecordingServer() as started:
        yield started
