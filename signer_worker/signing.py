"""Backend.AI request signing, as plain functions (no I/O).

The Manager recomputes an HMAC over seven lines of request metadata with a key derived from the
user's secret key, the date and the host; the body is not covered (API >= v4.20181215), which is why
signing needs only metadata.  GraphQL calls also carry an HS256 JWT minted with the same secret.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import jwt

EMPTY_BODY_DIGEST = hashlib.sha256(b"").hexdigest()
JWT_ROLES = frozenset({"admin", "user", "superadmin"})


def string_to_sign(method: str, target: str, date: str, host: str, content_type: str, api_version: str) -> str:
    return "\n".join(
        (
            method.upper(),
            target,
            date,
            f"host:{host}",
            f"content-type:{content_type.lower()}",
            f"x-backendai-version:{api_version}",
            EMPTY_BODY_DIGEST,
        )
    )


def derive_signing_key(secret_key: str, date_tag: str, host: str) -> bytes:
    # hmac.digest is the one-shot C path: several times faster than hmac.new for short inputs.
    first = hmac.digest(secret_key.encode(), date_tag.encode("ascii"), "sha256")
    return hmac.digest(first, host.encode(), "sha256")


def signature(
    secret_key: str, method: str, target: str, date: str, host: str, content_type: str, api_version: str, date_tag: str
) -> str:
    key = derive_signing_key(secret_key, date_tag, host)
    message = string_to_sign(method, target, date, host, content_type, api_version)
    return hmac.digest(key, message.encode(), "sha256").hex()


def authorization_header(access_key: str, hex_signature: str) -> str:
    return f"BackendAI signMethod=HMAC-SHA256, credential={access_key}:{hex_signature}"


def signed_headers(
    access_key: str,
    secret_key: str,
    method: str,
    target: str,
    host: str,
    content_type: str,
    api_version: str,
    now: datetime | None = None,
) -> dict[str, str]:
    """``Date`` and ``Authorization`` for one request; the same date string is signed and sent."""
    moment = datetime.now(UTC) if now is None else now.astimezone(UTC)
    date = moment.isoformat()
    date_tag = f"{moment.year:04d}{moment.month:02d}{moment.day:02d}"  # strftime("%Y%m%d"), at a third of its cost
    hex_signature = signature(secret_key, method, target, date, host, content_type, api_version, date_tag)
    return {"Date": date, "Authorization": authorization_header(access_key, hex_signature)}


def graphql_token(access_key: str, secret_key: str, role: str, lifetime: int, now: float) -> str:
    """The X-BackendAI-Token JWT; the Manager accepts only admin, user or superadmin as role."""
    issued = int(now)
    claims = {
        "exp": issued + lifetime,
        "iat": issued,
        "access_key": access_key,
        "role": role if role in JWT_ROLES else "user",
    }
    return jwt.encode(claims, secret_key, algorithm="HS256")
