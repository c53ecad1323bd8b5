"""One real stack for the security suites, configured as production would be: HTTPS with an HTTP
redirect port, two front-door workers, a CORS allow-list, tight limits for the monitor role and
for logins per client IP, and 127.0.0.1 trusted as a proxy so each test can log in from an address
of its own (``X-Forwarded-For``) without spending another test's login budget.
"""

from __future__ import annotations

import itertools
import json
import ssl

import aiohttp
import pytest

from tests.support.ports import free_port
from tests.support.stack import ADMIN_USER, RunningStack
from tests.support.tls import write_loopback_certificate

CORS_ORIGINS = ["https://console.example.com", "https://*.apps.example.com"]
MONITOR_LIMIT = 5
LOGIN_LIMIT = 10
_addresses = (f"198.51.100.{n}" for n in itertools.count(1))


def fresh_address() -> str:
    """A client address no other test uses (documentation range, RFC 5737)."""
    return next(_addresses)


@pytest.fixture(scope="package")
def secure_stack(tmp_path_factory):
    directory = tmp_path_factory.mktemp("secure")
    cert, key = write_loopback_certificate(directory)
    redirect_port = free_port()
    stack = RunningStack(
        directory,
        workers=2,
        service_extra=f'ssl_enabled = true\nssl_cert = "{cert}"\nssl_privkey = "{key}"\ntrusted_proxies = ["127.0.0.1"]',
        rate_limits=f"requests = 1000000\nlogin_requests = {LOGIN_LIMIT}\nrole_limits = {{ monitor = {MONITOR_LIMIT} }}",
        extra_config=f"\n[security]\ncors_allowed_origins = {json.dumps(CORS_ORIGINS)}\nhttp_redirect_port = {redirect_port}\n",
    )
    stack.base_url = f"https://127.0.0.1:{stack.ports.frontdoor}"
    stack.redirect_port = redirect_port
    stack.cert = cert
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SSL_CERT_FILE", str(cert))  # the readiness probe (urllib) trusts our certificate
        stack.start()
    yield stack
    stack.stop()


def tls_context(stack) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(stack.cert))


def client(stack, *, new_connection_each_time: bool = False) -> aiohttp.ClientSession:
    """A browser-like client of the HTTPS listener (its own cookie jar)."""
    connector = aiohttp.TCPConnector(ssl=tls_context(stack), force_close=new_connection_each_time)
    return aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True), connector=connector)


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
    async with client(secure_stack) as session:
        yield session


@pytest.fixture
async def admin(visitor):
    await log_in(visitor)
    return visitor


@pytest.fixture
def own_origin(secure_stack) -> str:
    return secure_stack.base_url
