"""Pure request-verification logic, mirroring the Backend.AI Manager.

Nothing here does I/O: the caller extracts raw request facts (method, raw
target, headers, body when needed) and these functions decide.  Failures are
raised as :class:`~devstack.problems.Problem` with the Manager's exact
status/type/msg so the stand-in answers the way a real Manager would.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import jwt

from devstack.problems import AUTH_FAILED, GENERIC_BAD_REQUEST, INVALID_AUTH_PARAMS, Problem

# --- API version (docs/protocol.md §2.6) -------------------------------------------

VALID_API_VERSIONS_23_09 = frozenset(
    {
        "v4.20181215",
        "v4.20190115",
        "v4.20190315",
        "v4.20190615",
        "v5.20191215",
        "v6.20200815",
        "v6.20210815",
        "v6.20220315",
        "v6.20220615",
        "v6.20230315",
        "v7.20230615",
    }
)
VALID_API_VERSIONS_HEAD = (VALID_API_VERSIONS_23_09 - {"v6.20210815"}) | {
    "v6.20221201",
    "v8.20240315",
    "v8.20240915",
    "v9.20250722",
}
# Accept what either Manager generation accepts: the product may face both.
VALID_API_VERSIONS = VALID_API_VERSIONS_23_09 | VALID_API_VERSIONS_HEAD
LATEST_API_VERSION = "v9.20250722"


def check_api_version(backendai_version: str | None, sorna_version: str | None) -> None:
    # `or` (not `is None`) on purpose: an empty new header falls back like the Manager's.
    version = backendai_version or sorna_version
    if version is not None and version not in VALID_API_VERSIONS:
        raise Problem(GENERIC_BAD_REQUEST, "Unsupported API version.")


# --- Authorization header (docs/protocol.md §2.4) -----------------------------------

AUTH_SCHEMES = ("BackendAI", "Sorna")


@dataclass(frozen=True)
class AuthParams:
    sign_method: str
    access_key: str
    signature: str


def parse_authorization(header: str) -> AuthParams:
    scheme, sep, rest = header.partition(" ")
    if not sep:
        raise Problem(INVALID_AUTH_PARAMS, "Malformed authorization header")
    if scheme not in AUTH_SCHEMES:
        raise Problem(INVALID_AUTH_PARAMS, "Invalid authorization type name")
    params: dict[str, str] = {}
    for piece in rest.split(","):
        key, has_eq, value = piece.strip().partition("=")
        if not has_eq:
            raise Problem(INVALID_AUTH_PARAMS, "Missing or malformed authorization parameters")
        params[key.strip()] = value.strip()
    access_key, has_colon, signature = params.get("credential", "").partition(":")
    if "signMethod" not in params or not has_colon:
        raise Problem(INVALID_AUTH_PARAMS, "Missing or malformed authorization parameters")
    return AuthParams(params["signMethod"], access_key, signature)


def hash_name_of(sign_method: str) -> str:
    """``HMAC-SHA256`` -> ``sha256``; validated like the Manager's signer."""
    parts = [part.lower() for part in sign_method.split("-")]
    if len(parts) != 2:
        # The Manager unpacks exactly two parts; anything else is a ValueError there.
        raise Problem(AUTH_FAILED, "Invalid signature")
    mac_type, hash_name = parts
    if mac_type != "hmac":
        raise Problem(INVALID_AUTH_PARAMS, "Unsupported request signing method (MAC type)")
    # shake_* needs an output length, so it can never work as an HMAC hash.
    if hash_name not in hashlib.algorithms_guaranteed or hash_name.startswith("shake_"):
        raise Problem(INVALID_AUTH_PARAMS, "Unsupported request signing method (hash type)")
    return hash_name


# --- Date header and clock skew (docs/protocol.md §2.5) -----------------------------

CLOCK_SKEW = timedelta(minutes=15)
DATE_HEADERS = ("Date", "X-BackendAI-Date", "X-Sorna-Date")

# A subset of the zone abbreviations the Manager's lenient parser knows.
_ZONE_OFFSETS_HOURS: dict[str, float] = {
    "UTC": 0,
    "GMT": 0,
    "UT": 0,
    "Z": 0,
    "WET": 0,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "AKST": -9,
    "AKDT": -8,
    "HST": -10,
    "BST": 1,
    "CET": 1,
    "WEST": 1,
    "CEST": 2,
    "EET": 2,
    "EEST": 3,
    "MSK": 3,
    "IST": 5.5,
    "SGT": 8,
    "HKT": 8,
    "AWST": 8,
    "KST": 9,
    "JST": 9,
    "AEST": 10,
    "AEDT": 11,
    "NZST": 12,
    "NZDT": 13,
}


@dataclass(frozen=True)
class SignedDate:
    raw: str  # verbatim header value: it is part of the string to sign
    parsed: datetime  # aware; keeps the header's own offset (drives the date tag)


def pick_raw_date(headers: Mapping[str, str]) -> str | None:
    for name in DATE_HEADERS:
        value = headers.get(name)
        if value:  # an empty Date falls through to the next header, as upstream
            return value
    return None


def _split_zone_abbreviation(text: str) -> tuple[str, timezone | None]:
    head, _, last = text.rpartition(" ")
    offset = _ZONE_OFFSETS_HOURS.get(last.upper()) if head else None
    if offset is None:
        return text, None
    return head.strip(), timezone(timedelta(hours=offset))


def parse_http_date(raw: str) -> datetime:
    """ISO-8601 or RFC 1123/850/asctime, zone abbreviations allowed; naive means UTC."""
    text, abbreviated_zone = _split_zone_abbreviation(raw.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"unparsable date {raw!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=abbreviated_zone or UTC)
    elif abbreviated_zone is not None:
        raise ValueError(f"two zones in date {raw!r}")
    return parsed


def check_date(headers: Mapping[str, str], now: datetime) -> SignedDate:
    raw = pick_raw_date(headers)
    if raw is None:
        raise Problem(INVALID_AUTH_PARAMS, "Date/time sync error")
    try:
        parsed = parse_http_date(raw)
    except ValueError:
        raise Problem(INVALID_AUTH_PARAMS, "Date/time sync error") from None
    if not (now - CLOCK_SKEW < parsed < now + CLOCK_SKEW):
        raise Problem(INVALID_AUTH_PARAMS, "Date/time sync error")
    return SignedDate(raw, parsed)


# --- String to sign and signature (docs/protocol.md §2.2, §2.3) ---------------------

BODY_HASH_UNTIL_VERSION = "v4.20181215"


@dataclass(frozen=True)
class VersionHeader:
    prefix: str  # "backendai" or, when only the legacy header came, "sorna"
    value: str


def signing_version(backendai_version: str | None, sorna_version: str | None) -> VersionHeader:
    value = backendai_version or sorna_version
    if value is None:
        raise Problem(INVALID_AUTH_PARAMS, "API version missing in request headers")
    return VersionHeader("backendai" if backendai_version is not None else "sorna", value)


def body_is_signed(version: str, content_type: str) -> bool:
    # Plain string comparison, exactly as upstream (not a semantic version compare).
    return version < BODY_HASH_UNTIL_VERSION and content_type != "multipart/form-data"


@dataclass(frozen=True)
class SigningFacts:
    method: str
    raw_target: str  # path plus ?query exactly as received
    raw_date: str
    date_tag: str  # YYYYMMDD
    host: str  # Host header verbatim
    content_type: str  # parsed, lower-case media type
    version: VersionHeader
    body: bytes = b""


def date_tag_of(parsed_date: datetime) -> str:
    return parsed_date.strftime("%Y%m%d")


def string_to_sign(facts: SigningFacts, hash_name: str) -> bytes:
    lines = (
        facts.method,
        facts.raw_target,
        facts.raw_date,
        f"host:{facts.host}",
        f"content-type:{facts.content_type}",
        f"x-{facts.version.prefix}-version:{facts.version.value}",
        hashlib.new(hash_name, facts.body).hexdigest(),
    )
    return "\n".join(lines).encode("utf-8")


def derive_signing_key(secret_key: str, date_tag: str, host: str, hash_name: str) -> bytes:
    dated_key = hmac.new(secret_key.encode("utf-8"), date_tag.encode("ascii"), hash_name).digest()
    return hmac.new(dated_key, host.encode("utf-8"), hash_name).digest()


def compute_signature(secret_key: str, facts: SigningFacts, hash_name: str) -> str:
    key = derive_signing_key(secret_key, facts.date_tag, facts.host, hash_name)
    return hmac.new(key, string_to_sign(facts, hash_name), hash_name).hexdigest()


def signatures_equal(expected: str, received: str) -> bool:
    # Compare bytes so a non-ASCII forgery is a mismatch rather than a TypeError.
    return hmac.compare_digest(expected.encode("utf-8"), received.encode("utf-8"))


# --- GraphQL JWT (docs/protocol.md §3.1) --------------------------------------------

JWT_ALGORITHM = "HS256"
JWT_ROLES = frozenset({"admin", "user", "superadmin"})


def _jwt_failure(detail: str) -> Problem:
    return Problem(AUTH_FAILED, f"JWT validation failed: {detail}")


def unverified_jwt_access_key(token: str) -> str:
    """Read ``access_key`` before verifying: it selects the secret to verify with."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise _jwt_failure(str(exc)) from None
    access_key = claims.get("access_key")
    if not isinstance(access_key, str) or not access_key:
        raise Problem(AUTH_FAILED, "Access key not found in JWT token")
    return access_key


def verify_jwt(token: str, secret_key: str) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "iat"], "verify_exp": True, "verify_iat": True},
        )
    except jwt.PyJWTError as exc:
        raise _jwt_failure(str(exc)) from None
    if claims.get("role") not in JWT_ROLES:
        raise _jwt_failure(f"Invalid role: {claims.get('role')!r}")
    return claims
