"""The Manager's password-taking auth endpoints through a real front door: refused before any
signing, however the path is spelled; the session's own password checks are limited per account."""

from __future__ import annotations

import json

import aiohttp
import pytest
from yarl import URL

from tests.e2e.edge.conftest import ALLOWED_FAILS, PROBS, log_in
from tests.support.stack import ADMIN_USER, NORMAL_USER

ADMIN_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
MONITOR = ("monitor@lablup.com", "7tuEwF1J")

AUTHORIZE_SPELLINGS = [
    "/func/auth/authorize",
    "/func/auth/authorize/",
    "/func/AUTH/AUTHORIZE",
    "/func/auth%2Fauthorize",
    "/func/auth%2fAuthorize",
    "/func/auth%252Fauthorize",
    "/func/%61uth/%61uthorize",
    "/func//auth/authorize",
    "/func/auth//authorize",
    "/func/auth/./authorize",
    "/func/auth/authorize?type=keypair",
    "/func/auth/signup",
    "/func/auth/update-password-no-auth",
]


@pytest.mark.parametrize("path", AUTHORIZE_SPELLINGS)
async def test_manager_auth_endpoints_are_refused_before_signing(edge_stack, edge_client, path):
    await log_in(edge_client, NORMAL_USER)
    body = {"type": "keypair", "domain": "default", "username": ADMIN_USER[0], "password": ADMIN_USER[1]}
    async with edge_client.post(URL(edge_stack.base_url + path, encoded=True), json=body) as response:
        text = await response.text()
        assert response.status == 403, text
        assert response.content_type == "application/problem+json"
        problem = json.loads(text)
        assert problem["type"] == PROBS + "webserver/auth-endpoint-refused"
        assert "/server/login" in problem["details"]
        assert ADMIN_SECRET not in text


async def test_guesses_through_authorize_never_reach_the_manager(edge_stack, edge_client):
    """The attack as found: many guesses, then the right one; none is even tried."""
    await log_in(edge_client, NORMAL_USER)
    for guess in [f"guess-{n}" for n in range(5)] + [ADMIN_USER[1]]:
        body = {"type": "keypair", "domain": "default", "username": ADMIN_USER[0], "password": guess}
        async with edge_client.post("/func/auth/authorize", json=body) as response:
            assert response.status == 403
            assert ADMIN_SECRET not in await response.text()


async def test_own_password_checks_are_limited_per_account_across_spellings(edge_stack):
    sessions = [aiohttp.ClientSession(edge_stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) for _ in range(2)]
    try:
        await log_in(sessions[0], MONITOR)
        await log_in(sessions[1], (MONITOR[0].upper(), MONITOR[1]))  # the same account, spelled otherwise
        body = {"old_password": "wrong", "new_password": "n3w-Passw0rd", "new_password2": "n3w-Passw0rd"}
        statuses = []
        for attempt in range(ALLOWED_FAILS + 1):
            async with sessions[attempt % 2].post("/func/auth/update-password", json=body) as response:
                statuses.append(response.status)
                last = await response.json(content_type=None)
        assert 429 not in statuses[:ALLOWED_FAILS], statuses
        assert statuses[-1] == 429, statuses
        assert last["type"] == PROBS + "too-many-requests"
    finally:
        for session in sessions:
            await session.close()
