"""The Manager API routes (devstack.routes): version, login, passwords, auth role and the GraphQL
route signed with HMAC."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer

from devstack.app import create_app
from tests.devstack.manager_client import ADMIN, MONITOR, PASSWORD_AGE, USER, Keypair, assert_problem, signed

pytestmark = pytest.mark.asyncio
APP_OPTIONS = PASSWORD_AGE


async def test_version_endpoint_is_public(client: TestClient) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert await response.json() == {"version": "v9.20250722", "manager": "26.8.1-devstack"}
    assert [response.headers[f"X-RateLimit-{h}"] for h in ("Limit", "Remaining", "Window")] == ["1000", "1000", "900"]
    assert "X-Devstack-Auth" not in response.headers


# --- login and password --------------------------------------------------------------


def login_body(username: str, password: str, **extra: str) -> dict[str, str]:
    return {"type": "keypair", "domain": "default", "username": username, "password": password} | extra


async def test_login_success(client: TestClient) -> None:
    response = await client.post("/auth/authorize", json=login_body("admin@lablup.com", "wJalrXUt", otp="1"))
    assert response.status == 200
    data = (await response.json())["data"]
    assert data | {"user_id": None} == {
        "access_key": ADMIN.access_key,
        "secret_key": ADMIN.secret_key,
        "role": "superadmin",
        "status": "active",
        "user_id": None,
        "type": "keypair",
        "response_type": "success",
    }
    assert len(data["user_id"]) == 36


@pytest.mark.parametrize(
    "body, status, slug, msg",
    [
        (login_body("admin@lablup.com", "wrong"), 401, "auth-failed", "User credential mismatch."),
        (login_body("nobody@lablup.com", "wJalrXUt"), 401, "auth-failed", "User credential mismatch."),
        (login_body("admin@lablup.com", "wJalrXUt", domain="other"), 401, "auth-failed", "User credential mismatch."),
        (login_body("inactive@lablup.com", "xPnTSNLh"), 401, "auth-failed", "User credential mismatch."),
        (login_body("admin@lablup.com", "wJalrXUt", type="jwt"), 400, "invalid-api-params", None),
        ({"type": "keypair", "username": "admin@lablup.com"}, 400, "invalid-api-params", None),
    ],
    ids=["bad-password", "unknown-user", "wrong-domain", "inactive", "jwt-type", "missing-fields"],
)
async def test_login_failures(client: TestClient, body, status: int, slug: str, msg: str | None) -> None:
    await assert_problem(await client.post("/auth/authorize", json=body), status, slug, msg)


async def test_login_rejects_expired_password() -> None:
    app = create_app(max_password_age=timedelta(microseconds=1))
    async with TestClient(TestServer(app)) as test_client:
        await asyncio.sleep(0.01)
        response = await test_client.post("/auth/authorize", json=login_body("user@lablup.com", "C8qnIo29"))
        await assert_problem(response, 401, "password-expired")


def password_body(current: str, new: str) -> dict[str, str]:
    return {"domain": "default", "username": "user@lablup.com", "current_password": current, "new_password": new}


async def test_update_password_no_auth(client: TestClient) -> None:
    response = await client.post("/auth/update-password-no-auth", json=password_body("wrong", "n3w-Passw0rd"))
    await assert_problem(response, 401, "auth-failed")
    response = await client.post("/auth/update-password-no-auth", json=password_body("C8qnIo29", "n3w-Passw0rd"))
    assert response.status == 201
    assert datetime.fromisoformat((await response.json())["password_changed_at"]).tzinfo is not None
    old = await client.post("/auth/authorize", json=login_body("user@lablup.com", "C8qnIo29"))
    await assert_problem(old, 401, "auth-failed")
    assert (await client.post("/auth/authorize", json=login_body("user@lablup.com", "n3w-Passw0rd"))).status == 200


async def test_update_password_unsupported_without_max_age() -> None:
    async with TestClient(TestServer(create_app())) as test_client:
        response = await test_client.post("/auth/update-password-no-auth", json=password_body("C8qnIo29", "x"))
        await assert_problem(response, 400, "generic-bad-request", "Unsupported function.")


# --- auth role and GraphQL ------------------------------------------------------------


@pytest.mark.parametrize(
    "keypair, expected",
    [
        (ADMIN, {"global_role": "superadmin", "domain_role": "admin", "group_role": None}),
        (USER, {"global_role": "user", "domain_role": "user", "group_role": None}),
        (MONITOR, {"global_role": "user", "domain_role": "user", "group_role": None}),
    ],
)
async def test_auth_role(client: TestClient, keypair: Keypair, expected: dict) -> None:
    response = await signed(client, "GET", "/auth/role", keypair)
    assert await response.json() == expected


@pytest.mark.parametrize(
    "method, target",
    [
        ("GET", "/admin/graphql?query=%7B%20me%20%7D"),
        ("POST", "/admin/graphql"),
        ("GET", "/admin/gql?query=x"),
        ("POST", "/admin/gql"),
    ],
)
async def test_graphql_stand_in(client: TestClient, method: str, target: str) -> None:
    body = json.dumps({"query": "{ me { email } }", "variables": {}}).encode() if method == "POST" else None
    response = await signed(client, method, target, USER, data=body, content_type="application/json" if body else None)
    assert response.status == 200, await response.text()
    payload = await response.json()
    assert payload["data"]["me"]["access_key"] == USER.access_key
    assert payload["extensions"] == {"auth_method": "hmac"}
