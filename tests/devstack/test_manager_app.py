"""End-to-end tests of the Manager stand-in over real loopback HTTP/WebSocket.

Requests are signed by the small independent signer below (written from the
protocol spec, not from devstack.verify), so a bug in the server's signature
code cannot hide behind the same bug in the test.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import aiohttp
import jwt
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from devstack.app import create_app
from devstack.users import UserDirectory, load_users_file

pytestmark = pytest.mark.asyncio

PROBS = "https://api.backend.ai/probs/"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Keypair:
    access_key: str
    secret_key: str


ADMIN = Keypair("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
USER = Keypair("AKIANABBDUSEREXAMPLE", "C8qnIo29EZvXkPK1Kk9mMFbwDmBFFeNC8e6wkSXN")
MONITOR = Keypair("AKIANAMONITOREXAMPLE", "7tuEwF1JHzGXZwo7gtCh8RT2YTjtasz2qmZDxcAr")
INACTIVE = Keypair("AKIANAINACTIVEEXAMPL", "xPnTSNLhQ2rJv6Wc8yK4mZ0bT1uGfE3dA5sH7jNo")


# --- independent signer (docs/protocol.md §2.2–2.4) ---------------------------------------


def sign(
    keypair: Keypair,
    method: str,
    target: str,
    host: str,
    *,
    content_type: str = "application/octet-stream",
    version: str = "v9.20250722",
    date: str | None = None,
    date_header: str = "Date",
    version_header: str = "X-BackendAI-Version",
    scheme: str = "BackendAI",
    hash_name: str = "sha256",
) -> dict[str, str]:
    date = date or datetime.now(UTC).isoformat()
    # The key's date tag is the calendar day written in the header itself.
    try:
        day = parsedate_to_datetime(date) if "," in date else datetime.fromisoformat(date)
    except ValueError:  # deliberately broken dates in negative tests
        day = datetime.now(UTC)
    prefix = "x-sorna-version" if version_header == "X-Sorna-Version" else "x-backendai-version"
    to_sign = "\n".join(
        [
            method,
            target,
            date,
            f"host:{host}",
            f"content-type:{content_type}",
            f"{prefix}:{version}",
            hashlib.new(hash_name, b"").hexdigest(),
        ]
    )
    key = hmac.new(keypair.secret_key.encode(), day.strftime("%Y%m%d").encode(), hash_name).digest()
    key = hmac.new(key, host.encode(), hash_name).digest()
    signature = hmac.new(key, to_sign.encode(), hash_name).hexdigest()
    return {
        date_header: date,
        version_header: version,
        "Authorization": f"{scheme} signMethod=HMAC-{hash_name.upper()}, credential={keypair.access_key}:{signature}",
    }


def make_jwt(keypair: Keypair, *, secret: str | None = None, role: str = "user", lifetime: int = 900) -> str:
    now = int(time.time())
    claims = {"exp": now + lifetime, "iat": now, "access_key": keypair.access_key, "role": role}
    return jwt.encode(claims, secret or keypair.secret_key, algorithm="HS256")


def host_of(client: TestClient) -> str:
    return f"{client.server.host}:{client.server.port}"


async def signed(
    client: TestClient,
    method: str,
    target: str,
    keypair: Keypair = ADMIN,
    *,
    data: bytes | None = None,
    content_type: str | None = None,
    extra: dict[str, str] | None = None,
    **sign_options: object,
) -> aiohttp.ClientResponse:
    # Sign the bare lower-case media type, send the raw header (parameters and all).
    media_type = (content_type or "application/octet-stream").split(";")[0].strip().lower()
    headers = sign(keypair, method, target, host_of(client), content_type=media_type, **sign_options)  # type: ignore[arg-type]
    if content_type:
        headers["Content-Type"] = content_type
    headers.update(extra or {})
    return await client.request(method, target, data=data, headers=headers)


async def assert_problem(response: aiohttp.ClientResponse, status: int, slug: str, msg: str | None = None) -> dict:
    body = json.loads(await response.read())
    assert response.status == status, body
    assert response.content_type == "application/problem+json"
    assert body["type"] == PROBS + slug
    if msg is not None:
        assert body.get("msg") == msg
    return body


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app(max_password_age=timedelta(days=90)))) as test_client:
        yield test_client


# --- public endpoints ----------------------------------------------------------------


async def test_version_endpoint_is_public(client: TestClient) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert await response.json() == {"version": "v9.20250722", "manager": "26.8.1-devstack"}
    assert [response.headers[f"X-RateLimit-{h}"] for h in ("Limit", "Remaining", "Window")] == ["1000", "1000", "900"]
    assert "X-Devstack-Auth" not in response.headers


@pytest.mark.parametrize(
    "method, path, status, slug",
    [
        ("GET", "/no/such/path", 404, "url-not-found"),
        ("DELETE", "/", 405, "method-not-allowed"),
        ("GET", "/auth/authorize", 405, "method-not-allowed"),
    ],
)
async def test_routing_errors_are_problems(client: TestClient, method: str, path: str, status: int, slug: str) -> None:
    await assert_problem(await client.request(method, path), status, slug)


async def test_unsupported_version_is_rejected_even_on_public_routes(client: TestClient) -> None:
    response = await client.get("/", headers={"X-BackendAI-Version": "v99.20990101"})
    await assert_problem(response, 400, "generic-bad-request", "Unsupported API version.")


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


def minutes_ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


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


async def test_method_override_reroutes_before_auth(client: TestClient) -> None:
    headers = sign(ADMIN, "GET", "/auth/role", host_of(client)) | {"X-Method-Override": "GET"}
    response = await client.post("/auth/role", headers=headers)
    assert response.status == 200, await response.text()
    assert (await response.json())["global_role"] == "superadmin"


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


# --- signed API routes ----------------------------------------------------------------


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


@pytest.mark.parametrize("path", ["/stream/echo", "/stream/session/sess-1/pty"])
async def test_websocket_echo(client: TestClient, path: str) -> None:
    async with client.ws_connect(path, headers=sign(USER, "GET", path, host_of(client))) as ws:
        await ws.send_str("hello")
        assert (await ws.receive(timeout=5)).data == "hello"
        await ws.send_bytes(b"\x00\x01\xff")
        message = await ws.receive(timeout=5)
        assert (message.type, message.data) == (aiohttp.WSMsgType.BINARY, b"\x00\x01\xff")


async def test_websocket_handshake_must_be_signed(client: TestClient) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/stream/echo")
    assert info.value.status == 401


async def test_sse_sends_exactly_n_events(client: TestClient) -> None:
    response = await signed(client, "GET", "/stream/kernel/_/events?n=3&interval=0.01")
    assert response.content_type == "text/event-stream"
    text = (await response.read()).decode()
    events = [block for block in text.split("\n\n") if block]
    assert events == [f'event: kernel_status\ndata: {{"seq": {i}}}' for i in range(3)]


async def test_sse_forever_sends_keepalives(client: TestClient) -> None:
    response = await signed(client, "GET", "/stream/kernel/_/events?n=0&interval=0.01")
    assert response.status == 200, await response.text()
    received = b""
    while received.count(b": keepalive\n\n") < 3:
        chunk = await asyncio.wait_for(response.content.readany(), timeout=5)
        assert chunk, "stream ended although n=0 means forever"
        received += chunk
    response.close()


@pytest.mark.parametrize("size", [0, 1, 65536, 65537, 1_000_003])
async def test_download_size_is_exact(client: TestClient, size: int) -> None:
    response = await signed(client, "GET", f"/dev/download?size={size}")
    body = await response.read()
    assert response.headers["Content-Length"] == str(size)
    assert len(body) == size
    assert body == (bytes(range(256)) * (size // 256 + 1))[:size]


@pytest.mark.parametrize("method", ["POST", "PUT"])
async def test_upload_reports_size_and_sha256(client: TestClient, method: str) -> None:
    payload = os.urandom(300_000)
    response = await signed(client, method, "/dev/upload", data=payload, content_type="application/octet-stream")
    assert await response.json() == {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


async def test_upload_streams_chunked_bodies(client: TestClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(5):
            yield bytes([i]) * 70_000

    headers = sign(ADMIN, "PUT", "/dev/upload", host_of(client))
    response = await client.put("/dev/upload", data=chunks(), headers=headers)
    expected = b"".join(bytes([i]) * 70_000 for i in range(5))
    assert await response.json() == {"size": len(expected), "sha256": hashlib.sha256(expected).hexdigest()}


async def test_slow(client: TestClient) -> None:
    started = time.perf_counter()
    response = await signed(client, "GET", "/dev/slow?delay=0.05")
    assert await response.json() == {"slept": 0.05}
    assert time.perf_counter() - started >= 0.05


async def test_echo_headers_shows_what_arrived(client: TestClient) -> None:
    extra = {"X-Forwarded-For": "10.0.0.1", "Cookie": "AIOHTTP_SESSION=abc; sToken=t"}
    response = await signed(client, "GET", "/dev/echo-headers?a=1", extra=extra)
    body = await response.json()
    assert body["method"] == "GET" and body["raw_path"] == "/dev/echo-headers?a=1"
    assert body["cookies"] == {"AIOHTTP_SESSION": "abc", "sToken": "t"}
    assert body["headers"]["X-Forwarded-For"] == "10.0.0.1"


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


async def test_stats_count_auth_methods(client: TestClient) -> None:
    await signed(client, "GET", "/auth?echo=1")
    await signed(client, "GET", "/auth?echo=1", extra={"Date": minutes_ago(30)})  # fails: not counted
    await client.get("/admin/gql?query=x", headers={"X-BackendAI-Token": make_jwt(ADMIN)})
    assert await (await client.get("/dev/stats")).json() == {
        "authenticated_requests": 2,
        "by_method": {"hmac": 1, "jwt": 1},
    }


# --- users file and CLI ----------------------------------------------------------------


async def test_users_file_overrides_and_extends(tmp_path: Path) -> None:
    users_file = tmp_path / "users.json"
    users_file.write_text(
        json.dumps(
            [
                {
                    "email": "user@lablup.com",
                    "password": "changed",
                    "access_key": USER.access_key,
                    "secret_key": USER.secret_key,
                    "role": "admin",
                    "status": "active",
                },
                {
                    "email": "new@lablup.com",
                    "password": "pw",
                    "access_key": "AKIANEWUSEREXAMPLE00",
                    "secret_key": "s" * 40,
                    "role": "user",
                    "status": "active",
                    "user_id": "u-1",
                },
            ]
        )
    )
    directory: UserDirectory = load_users_file(users_file)
    assert len(directory) == 5
    assert directory.by_email("user@lablup.com").role == "admin"
    assert directory.by_access_key("AKIANEWUSEREXAMPLE00").user_id == "u-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_cli_serves_and_logs_json_lines() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(100):
                try:
                    async with session.get(f"http://127.0.0.1:{port}/") as response:
                        assert response.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.05)
            else:
                pytest.fail("devstack CLI did not start")
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert {"method": "GET", "path": "/", "status": 200}.items() <= records[-1].items()
    assert "Authorization" not in stderr
