"""Glue between aiohttp requests and the pure checks in :mod:`devstack.verify`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from aiohttp import web

from devstack import verify
from devstack.problems import AUTH_FAILED, Problem
from devstack.state import RATE_LIMITS_KEY, STATS_KEY, USERS_KEY, audit_of
from devstack.users import UserRecord

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

_AUTH_REQUIRED_ATTR = "devstack_auth_required"


def auth_required(handler: H) -> H:
    """Mark a handler as signed-only; the gateway middleware enforces it."""
    setattr(handler, _AUTH_REQUIRED_ATTR, True)
    return handler


def is_auth_required(handler: object) -> bool:
    return bool(getattr(handler, _AUTH_REQUIRED_ATTR, False))


def _active_user(request: web.Request, access_key: str) -> UserRecord | None:
    # The Manager selects keypairs WHERE is_active; an inactive account has none.
    user = request.app[USERS_KEY].by_access_key(access_key)
    return user if user is not None and user.is_active else None


async def authenticate(request: web.Request) -> None:
    """Token first, then Authorization (HEAD precedence); record the outcome."""
    token = request.headers.get("X-BackendAI-Token")
    if token:
        user, auth_method = _authenticate_jwt(request, token), "jwt"
    elif request.headers.get("Authorization"):
        user, auth_method = await _authenticate_hmac(request), "hmac"
    else:
        raise Problem(AUTH_FAILED, "Unauthorized access")
    audit = audit_of(request)
    audit.auth_method = auth_method
    audit.user = user
    audit.rate_limit_remaining = request.app[RATE_LIMITS_KEY].count(user.access_key)
    request.app[STATS_KEY].record(auth_method)


def _authenticate_jwt(request: web.Request, token: str) -> UserRecord:
    access_key = verify.unverified_jwt_access_key(token)
    user = _active_user(request, access_key)
    if user is None:
        raise Problem(AUTH_FAILED, "Access key not found in database")
    verify.verify_jwt(token, user.secret_key)
    return user


async def _authenticate_hmac(request: web.Request) -> UserRecord:
    signed_date = verify.check_date(request.headers, datetime.now(UTC))
    params = verify.parse_authorization(request.headers["Authorization"])
    user = _active_user(request, params.access_key)
    if user is None:
        raise Problem(AUTH_FAILED, "Access key not found")
    hash_name = verify.hash_name_of(params.sign_method)
    facts = await _signing_facts(request, signed_date)
    expected = verify.compute_signature(user.secret_key, facts, hash_name)
    if not verify.signatures_equal(expected, params.signature):
        raise Problem(AUTH_FAILED, "Signature mismatch")
    return user


async def _signing_facts(request: web.Request, signed_date: verify.SignedDate) -> verify.SigningFacts:
    version = verify.signing_version(request.headers.get("X-BackendAI-Version"), request.headers.get("X-Sorna-Version"))
    body = b""
    if verify.body_is_signed(version.value, request.content_type) and request.can_read_body:
        body = await request.read()  # only pre-2018 API versions; never on current clients
    return verify.SigningFacts(
        method=request.method,
        raw_target=request.raw_path,
        raw_date=signed_date.raw,
        date_tag=verify.date_tag_of(signed_date.parsed),
        host=request.host,
        content_type=request.content_type,
        version=version,
        body=body,
    )
