"""``/server/*`` answers as Backend.AI's webserver 23.09 (the Web UI bundle we host) sends them: one
row per route and situation, status and body shape, against a running front door.

Shapes: a value is compared exactly, a type means "any value of that type", ``ABSENT`` means the
body is empty.  ``token-login`` runs against the devstack's pretend authorize hook (a known
``sToken`` logs in as its user).  Deliberate deviations, each named in README's Wire compatibility:
``login-check`` returns ``session_id: null`` (the id stays in the HttpOnly cookie); a blocked login's
problem document adds ``details`` and ``retry_after``; a successful password update adds
``data: null`` (Backend.AI 24.09's shape).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.stack import ADMIN_USER, NORMAL_USER

ABSENT = object()
SSO_TOKEN = "devstack-sso-token-user"  # the devstack's pretend authorize hook: user@lablup.com
PROBLEM = "application/problem+json"
KEYPAIR = {"access_key": str, "role": str, "status": str}
REFUSAL = {"type": str, "title": str, "details": str}


def problem(slug: str, title: str) -> dict[str, Any]:
    return {"type": f"https://api.backend.ai/probs/{slug}", "title": title}


def matches(shape: Any, value: Any) -> bool:
    if isinstance(shape, type):
        return isinstance(value, shape)
    if isinstance(shape, dict):
        return isinstance(value, dict) and set(shape) == set(value) and all(matches(shape[k], value[k]) for k in shape)
    return shape == value


# (route, logged in first, request body (bytes: raw), status, content type, body shape)
CASES = [
    (
        "login",
        False,
        {"username": NORMAL_USER[0], "password": NORMAL_USER[1]},
        200,
        "application/json",
        {"authenticated": True, "data": KEYPAIR},
    ),
    (
        "login",
        False,
        {"username": NORMAL_USER[0], "password": "wrong-password"},
        200,
        "application/json",
        {"authenticated": False, "data": REFUSAL},
    ),
    (
        "login",
        False,
        {"password": "x"},
        400,
        PROBLEM,
        problem("invalid-api-params", "You must provide the username field."),
    ),
    (
        "login",
        False,
        {"username": NORMAL_USER[0]},
        400,
        PROBLEM,
        problem("invalid-api-params", "You must provide the password field."),
    ),
    ("login", False, b"{not json", 400, PROBLEM, problem("invalid-api-params", "You must provide the username field.")),
    (
        "login",
        True,
        {"username": NORMAL_USER[0], "password": NORMAL_USER[1]},
        400,
        PROBLEM,
        problem("generic-bad-request", "You have already logged in."),
    ),
    ("login-check", False, {}, 200, "application/json", {"authenticated": False, "data": None, "session_id": None}),
    ("login-check", True, {}, 200, "application/json", {"authenticated": True, "data": KEYPAIR, "session_id": None}),
    ("logout", True, {}, 201, None, ABSENT),
    ("logout", False, {}, 201, None, ABSENT),
    (
        "update-password-no-auth",
        False,
        {"username": NORMAL_USER[0], "new_password": "x"},
        400,
        PROBLEM,
        problem("invalid-api-params", "You must provide the current_password field."),
    ),
    (
        "update-password-no-auth",
        False,
        {"username": NORMAL_USER[0], "current_password": NORMAL_USER[1], "new_password": "N3w-passw0rd"},
        200,
        "application/json",
        {"data": REFUSAL, "password_changed_at": None},
    ),  # the devstack has no expiry policy
    ("token-login", False, {"sToken": SSO_TOKEN}, 200, "application/json", {"authenticated": True, "data": KEYPAIR}),
    (
        "token-login",
        False,
        {"sToken": "not-a-token"},
        200,
        "application/json",
        {"authenticated": False, "data": REFUSAL},
    ),
    (
        "token-login",
        False,
        {},
        400,
        PROBLEM,
        problem("invalid-api-params", "You must provide cookie-based authentication token"),
    ),
    (
        "token-login",
        True,
        {"sToken": SSO_TOKEN},
        400,
        PROBLEM,
        problem("generic-bad-request", "You have already logged in."),
    ),
]


@pytest.fixture
async def web(parity_stack):
    async with parity_stack.client() as session:
        yield session


@pytest.mark.parametrize("route, logged_in, body, status, content_type, shape", CASES)
async def test_server_routes_answer_like_backend_ai(web, route, logged_in, body, status, content_type, shape):
    if logged_in:
        async with web.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as answer:
            assert answer.status == 200
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with web.post(f"/server/{route}", data=data, headers={"Content-Type": "application/json"}) as answer:
        raw = await answer.read()
        assert answer.status == status, raw[:300]
        if shape is ABSENT:
            assert raw == b""
            return
        assert answer.content_type == content_type
        assert matches(shape, json.loads(raw)), raw[:300]


async def test_a_blocked_login_is_429_too_many_requests(web, parity_stack):
    username = "blocked-parity@lablup.com"
    for _ in range(parity_stack.config.session.login_allowed_fail_count):
        async with web.post("/server/login", json={"username": username, "password": "wrong"}) as answer:
            assert answer.status == 200 and (await answer.json())["authenticated"] is False
    async with web.post("/server/login", json={"username": username, "password": "wrong"}) as answer:
        assert answer.status == 429 and answer.content_type == PROBLEM
        body = await answer.json()
    assert {k: body[k] for k in ("type", "title")} == problem("too-many-requests", "Too many failed login attempts")
    assert set(body) == {"type", "title", "details", "retry_after"}


async def test_logout_ends_the_session_and_the_cookie(web):
    async with web.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as answer:
        assert answer.status == 200
    async with web.post("/server/logout") as answer:
        assert answer.status == 201
    async with web.post("/server/login-check") as answer:
        assert (await answer.json())["authenticated"] is False


async def test_token_login_takes_the_token_from_a_cookie_too(parity_stack):
    async with parity_stack.client() as web:
        async with web.post("/server/token-login", json={}, headers={"Cookie": f"sToken={SSO_TOKEN}"}) as answer:
            assert answer.status == 200 and (await answer.json())["authenticated"] is True
        async with web.post("/server/login-check") as answer:
            check = await answer.json()
        assert check["authenticated"] is True and check["data"]["role"] == "user"
        async with web.get("/func/auth?echo=sso") as answer:
            assert answer.status == 200 and (await answer.json())["echo"] == "sso"
