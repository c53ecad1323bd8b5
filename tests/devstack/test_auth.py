"""How the stand-in authenticates (devstack.auth over devstack.verify): HMAC signatures in every variant
the Manager accepts, over the raw target that arrives, and GraphQL JWTs."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from aiohttp.test_utils import TestClient

from tests.devstack.manager_client import (
    ADMIN,
    INACTIVE,
    PASSWORD_AGE,
    USER,
    Keypair,
    assert_problem,
    host_of,
    make_jwt,
    minutes_ago,
    sign,
    signed,
)

pytestmark = pytest.mark.asyncio
APP_OPTIONS = PASSWORD_AGE


# --- HMAC ------------------------------------------------------------------------------


async def test_signed_request_is_authorized_and_tagged(client: TestClient) -> None:
    response = await signed(client, "GET", "/auth?echo=hello")
    assert response.status == 200, await response.text()
    assert await response.json() == {"authorized": "yes", "echo": "hello"}
    assert response.headers["X-Devstack-Auth"] == "hmac"
    assert response.headers["X-Devstack-Access-Key"] == ADMIN.access_key
    assert response.headers["X-RateLimit-Remaining"] == "999"


def rfc1123_now() -> str:
    return format_datetime(datetime.now(UTC), usegmt=True)


@pytest.mark.parametrize(
    "sign_options",
    [
        {},
        {"version": "v7.20230615"},
        {"date": rfc1123_now()},
        {"date": datetime.now(timezone(timedelta(hours=9))).isoformat()},
        {"date_header": "X-BackendAI-Date"},
        {
            "date_header": "X-Sorna-Date",
            "version_header": "X-Sorna-Version",
            "scheme": "Sorna",
            "version": "v4.20190615",
        },
        {"hash_name": "sha512"},
        {"hash_name": "sha1"},
    ],
    ids=["iso", "v7", "rfc1123", "plus9", "x-backendai-date", "legacy-sorna", "sha512", "sha1"],
)
async def test_signing_variants_accepted(client: TestClient, sign_options: dict[str, str]) -> None:
    response = await signed(client, "GET", "/auth?echo=v", USER, **sign_options)
    assert response.status == 200, await response.text()


async def test_body_json_content_type_and_query_are_signed(client: TestClient) -> None:
    body = json.dumps({"echo": "posted"}).encode()
    response = await signed(
        client, "POST", "/auth?x=1&y=a%20b", data=body, content_type="application/json; charset=UTF-8"
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["echo"] == "posted"


BAD_SIGNATURE_CASES = [
    # (id, keypair, sign options, mutate(headers), status, slug, msg)
    (
        "wrong-signature",
        ADMIN,
        {},
        lambda h: h.update(
            Authorization=h["Authorization"][:-1] + "0"
            if not h["Authorization"].endswith("0")
            else h["Authorization"][:-1] + "1"
        ),
        401,
        "auth-failed",
        "Signature mismatch",
    ),
    ("wrong-secret", Keypair(ADMIN.access_key, USER.secret_key), {}, None, 401, "auth-failed", "Signature mismatch"),
    (
        "unknown-access-key",
        Keypair("AKIANOSUCHKEYEXAMPLE", ADMIN.secret_key),
        {},
        None,
        401,
        "auth-failed",
        "Access key not found",
    ),
    ("inactive-user", INACTIVE, {}, None, 401, "auth-failed", "Access key not found"),
    (
        "date-too-old",
        ADMIN,
        {"date": lambda: minutes_ago(16)},
        None,
        400,
        "invalid-auth-params",
        "Date/time sync error",
    ),
    (
        "date-too-new",
        ADMIN,
        {"date": lambda: minutes_ago(-16)},
        None,
        400,
        "invalid-auth-params",
        "Date/time sync error",
    ),
    ("date-missing", ADMIN, {}, lambda h: h.pop("Date"), 400, "invalid-auth-params", "Date/time sync error"),
    ("date-garbage", ADMIN, {"date": "yesterday-ish"}, None, 400, "invalid-auth-params", "Date/time sync error"),
    ("bad-scheme", ADMIN, {"scheme": "Bearer"}, None, 400, "invalid-auth-params", None),
    (
        "no-credential",
        ADMIN,
        {},
        lambda h: h.update(Authorization="BackendAI signMethod=HMAC-SHA256"),
        400,
        "invalid-auth-params",
        None,
    ),
    ("no-space", ADMIN, {}, lambda h: h.update(Authorization="BackendAI"), 400, "invalid-auth-params", None),
    (
        "bad-mac",
        ADMIN,
        {},
        lambda h: h.update(Authorization=h["Authorization"].replace("HMAC-", "RSA-")),
        400,
        "invalid-auth-params",
        None,
    ),
    (
        "unsupported-version",
        ADMIN,
        {"version": "v5.20191216"},
        None,
        400,
        "generic-bad-request",
        "Unsupported API version.",
    ),
    (
        "version-missing",
        ADMIN,
        {},
        lambda h: h.pop("X-BackendAI-Version"),
        400,
        "invalid-auth-params",
        "API version missing in request headers",
    ),
    (
        "signed-other-version",
        ADMIN,
        {},
        lambda h: h.update({"X-BackendAI-Version": "v8.20240915"}),
        401,
        "auth-failed",
        "Signature mismatch",
    ),
    ("no-auth-at-all", ADMIN, {}, lambda h: h.clear(), 401, "auth-failed", "Unauthorized access"),
]


@pytest.mark.parametrize(
    "keypair, options, mutate, status, slug, msg",
    [case[1:] for case in BAD_SIGNATURE_CASES],
    ids=[case[0] for case in BAD_SIGNATURE_CASES],
)
async def test_bad_signatures_rejected(client: TestClient, keypair, options, mutate, status, slug, msg) -> None:
    # Dates are made when the test runs, not when it is collected (a long run would age them).
    options = {key: value() if callable(value) else value for key, value in options.items()}
    headers = sign(keypair, "GET", "/auth?echo=x", host_of(client), **options)
    if mutate:
        mutate(headers)
    await assert_problem(await client.get("/auth?echo=x", headers=headers), status, slug, msg)


@pytest.mark.parametrize(
    "sent_target, extra, reason",
    [
        ("/auth?echo=y", {}, "query changed"),
        ("/auth?echo=x", {"Host": "localhost:1"}, "host changed"),
        ("/auth?echo=x", {"Content-Type": "application/json"}, "content type changed"),
    ],
    ids=["query", "host", "content-type"],
)
async def test_tampering_is_a_signature_mismatch(client: TestClient, sent_target: str, extra, reason: str) -> None:
    headers = sign(ADMIN, "GET", "/auth?echo=x", host_of(client)) | extra
    await assert_problem(await client.get(sent_target, headers=headers), 401, "auth-failed", "Signature mismatch")


async def test_host_header_is_used_verbatim(client: TestClient) -> None:
    headers = sign(ADMIN, "GET", "/auth?echo=x", "manager.example:8091") | {"Host": "manager.example:8091"}
    assert (await client.get("/auth?echo=x", headers=headers)).status == 200


# --- JWT -------------------------------------------------------------------------------


async def test_jwt_path_needs_no_date_and_is_tagged(client: TestClient) -> None:
    response = await client.post(
        "/admin/gql", json={"query": "{ me { email } }"}, headers={"X-BackendAI-Token": make_jwt(USER)}
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["extensions"] == {"auth_method": "jwt"}
    assert body["data"]["me"]["email"] == "user@lablup.com"
    assert response.headers["X-Devstack-Auth"] == "jwt"


@pytest.mark.parametrize(
    "token, msg_prefix",
    [
        (lambda: make_jwt(USER, lifetime=-10), "JWT validation failed"),
        (lambda: make_jwt(USER, secret=ADMIN.secret_key), "JWT validation failed"),
        (lambda: make_jwt(USER, role="monitor"), "JWT validation failed"),
        (lambda: make_jwt(Keypair("AKIANOSUCHKEYEXAMPLE", USER.secret_key)), "Access key not found"),
        (lambda: make_jwt(INACTIVE), "Access key not found"),
        (lambda: "not-a-token", "JWT validation failed"),
    ],
    ids=["expired", "wrong-secret", "bad-role", "unknown-key", "inactive", "garbage"],
)
async def test_bad_jwt_rejected(client: TestClient, token, msg_prefix: str) -> None:
    response = await client.get("/admin/gql?query=x", headers={"X-BackendAI-Token": token()})
    body = await assert_problem(response, 401, "auth-failed")
    assert body["msg"].startswith(msg_prefix)


async def test_token_takes_precedence_over_a_valid_signature(client: TestClient) -> None:
    headers = sign(ADMIN, "GET", "/admin/gql?query=x", host_of(client))
    headers["X-BackendAI-Token"] = make_jwt(USER, lifetime=-10)
    await assert_problem(await client.get("/admin/gql?query=x", headers=headers), 401, "auth-failed")


# --- the raw target ----------------------------------------------------------------------


async def raw_get(client: TestClient, target: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """A GET whose request target is written byte for byte (aiohttp's client would normalise it)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host_of(client)}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    answer = await reader.read(-1)
    writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize(
    "sent, normalised",
    [
        ("/dev/echo-headers?", "/dev/echo-headers"),
        ("/dev/echo-headers?a=1&", "/dev/echo-headers?a=1"),
        ("/dev/echo-headers?a=&b", "/dev/echo-headers?a=&b="),
        ("/dev/echo-headers?q=a+b", "/dev/echo-headers?q=a%20b"),
        ("/dev/echo-headers/a%2Fb", "/dev/echo-headers/a/b"),
        ("/dev/echo-headers/%c3%bc", "/dev/echo-headers/%C3%BC"),
        ("/dev/echo-headers/a;b?x=1;y=2", "/dev/echo-headers/a;b?x=1&y=2"),
    ],
)
async def test_signatures_are_verified_over_the_raw_target_that_arrives(client: TestClient, sent, normalised) -> None:
    """As the real Manager (``request.raw_path``): no decoding, no dropped ``?``, no re-encoding."""
    status, body = await raw_get(client, sent, sign(ADMIN, "GET", sent, host_of(client)))
    assert status == 200 and json.loads(body)["raw_path"] == sent
    status, body = await raw_get(client, sent, sign(ADMIN, "GET", normalised, host_of(client)))
    assert status == 401 and json.loads(body)["msg"] == "Signature mismatch"
