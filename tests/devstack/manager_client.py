"""A client of the Manager stand-in for its tests: the well-known keypairs, a small independent
signer and the problem check.

Requests are signed by the signer below (written from the protocol spec, not from devstack.verify),
so a bug in the server's signature code cannot hide behind the same bug in the test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import aiohttp
import jwt
from aiohttp.test_utils import TestClient

PROBS = "https://api.backend.ai/probs/"
# create_app options of the modules that test login and passwords (a password age to expire).
PASSWORD_AGE = {"max_password_age": timedelta(days=90)}


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


def minutes_ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()
