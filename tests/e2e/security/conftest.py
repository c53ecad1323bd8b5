"""One real stack for the security suites, configured as production would be: HTTPS with an HTTP
redirect port, two front-door workers, a CORS allow-list, tight limits for the monitor role and
for logins per client IP, and 127.0.0.1 trusted as a proxy so each test can log in from an address
of its own (``X-Forwarded-For``) without spending another test's login budget.
"""

from __future__ import annotations

import itertools
import json

import aiohttp
import pytest

from tests.support.https_stack import HttpsStack
from tests.support.stack import ADMIN_USER

CORS_ORIGINS = ["https://console.example.com", "https://*.apps.example.com"]
MONITOR_LIMIT = 5
LOGIN_LIMIT = 10
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def fresh_address() -> str:
    """A client address no other test uses (documentation range, RFC 5737)."""
    return next(_addresses)


@pytest.fixture(scope="package")
def secure_stack(tmp_path_factory):
    stack = HttpsStack(
        tmp_path_factory.mktemp("secure"),
        workers=2,
        service_extra='trusted_proxies = ["127.0.0.1"]',
        rate_limits=f"requests = 1000000\nlogin_requests = {LOGIN_LIMIT}\nrole_limits = {{ monitor = {MONITOR_LIMIT} }}",
        security=f"cors_allowed_origins = {json.dumps(CORS_ORIGINS)}",
    )
    stack.start()
    yield stack
    stack.stop()


async def log_in(
    session: aiohttp.ClientSession, user: tuple[str, str] = ADMIN_USER, address: str | None = None
) -> dict:
    headers = {"X-Forwarded-For": address or fresh_address()}
    async with session.post(
        "/server/login", json={"username": user[0], "password": user[1]}, headers=headers
    ) as response:
        assert response.status == 200, await response.text()
        return await response.json()


@pytest.fixture
async def visitor(secure_stack):
    async with secure_stack.client() as session:
        yield session


@pytest.fixture
async def admin(visitor):
    await log_in(visitor)
    return visitor


@pytest.fixture
def own_origin(secure_stack) -> str:
    return secure_stack.base_url
