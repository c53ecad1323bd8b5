"""The one mapping from the session daemon's typed results to HTTP answers, table-driven, no I/O.

The bodies are Backend.AI's (its webserver 23.09, the wire spec) byte for byte: these are the shapes
the parity suites (tests/e2e/parity) compare against the original."""

from __future__ import annotations

import pytest

from contract.session_results import (
    InternalError,
    InvalidCommand,
    LoggedOut,
    LoginBlocked,
    LoginSucceeded,
    ManagerRefused,
    ManagerUnavailable,
    PasswordChanged,
    SessionUnknown,
    SignedUp,
    StoreUnavailable,
    Touched,
    UserRevoked,
)
from frontdoor import session_answers
from frontdoor.session_answers import JsonAnswer

PROBS = "https://api.backend.ai/probs/"
AUTH_FAILED = ManagerRefused(401, PROBS + "auth-failed", "Credential/signature mismatch.", "User credential mismatch.")
NO_MSG = ManagerRefused(403, PROBS + "generic-forbidden", "Forbidden")
UNREACHABLE = ManagerUnavailable("Cannot connect to the Manager.")

# Answers every route gives to a result that is no success of its own.
FAILURES = [
    (
        InvalidCommand("You must provide the username field."),
        JsonAnswer(
            400,
            {
                "type": PROBS + "invalid-api-params",
                "title": "Missing or invalid API parameters.",
                "details": "You must provide the username field.",
            },
        ),
    ),
    (SessionUnknown(), JsonAnswer(401, {"type": PROBS + "auth-failed", "title": "Unauthorized access"})),
    (
        LoginBlocked(1200),
        JsonAnswer(
            429,
            {
                "type": PROBS + "too-many-requests",
                "title": "Too many failed login attempts",
                "details": "Blocked for 1200 more seconds",
                "retry_after": 1200,
            },
        ),
    ),
    (
        UNREACHABLE,
        JsonAnswer(
            502,
            {
                "type": PROBS + "bad-gateway",
                "title": "The proxy target server is inaccessible.",
                "details": "Cannot connect to the Manager.",
            },
        ),
    ),
    (
        StoreUnavailable(),
        JsonAnswer(503, {"type": PROBS + "service-unavailable", "title": "Session store unavailable."}),
    ),
    (InternalError(), JsonAnswer(500, {"type": PROBS + "internal-server-error", "title": "Internal server error."})),
    # A result the route cannot get from the daemon is an internal error, never a made-up success.
    (LoggedOut(), JsonAnswer(500, {"type": PROBS + "internal-server-error", "title": "Internal server error."})),
]

LOGIN = [
    (
        LoginSucceeded("s" * 32, "AKIAIOSFODNN7EXAMPLE", "superadmin", "active"),
        JsonAnswer(
            200,
            {
                "authenticated": True,
                "data": {"access_key": "AKIAIOSFODNN7EXAMPLE", "role": "superadmin", "status": "active"},
            },
        ),
    ),
    (
        AUTH_FAILED,
        JsonAnswer(
            401,
            {
                "authenticated": False,
                "data": {
                    "type": PROBS + "auth-failed",
                    "title": "Credential/signature mismatch.",
                    "details": "User credential mismatch.",
                },
            },
        ),
    ),
    (
        NO_MSG,
        JsonAnswer(
            403,
            {
                "authenticated": False,
                "data": {"type": PROBS + "generic-forbidden", "title": "Forbidden", "details": "Forbidden"},
            },
        ),
    ),
    *FAILURES,
]

UPDATE_PASSWORD = [
    (
        PasswordChanged("2026-01-01T00:00:00+00:00"),
        JsonAnswer(200, {"data": None, "password_changed_at": "2026-01-01T00:00:00+00:00"}),
    ),
    (
        AUTH_FAILED,
        JsonAnswer(
            200,
            {
                "data": {
                    "type": PROBS + "auth-failed",
                    "title": "Credential/signature mismatch.",
                    "details": "User credential mismatch.",
                },
                "password_changed_at": None,
            },
        ),
    ),
    *FAILURES,
]

SIGNUP = [
    (SignedUp(201, "AKIAIOSFODNN7EXAMPLE"), JsonAnswer(201, {"access_key": "AKIAIOSFODNN7EXAMPLE"})),
    (
        ManagerRefused(400, PROBS + "generic-bad-request", "Bad request", "Email already exists"),
        JsonAnswer(400, {"type": PROBS + "generic-bad-request", "title": "Bad request", "msg": "Email already exists"}),
    ),
    (NO_MSG, JsonAnswer(403, {"type": PROBS + "generic-forbidden", "title": "Forbidden"})),
    (UNREACHABLE, JsonAnswer(502, {"type": PROBS + "bad-gateway", "title": "Cannot connect to the Manager."})),
    *[failure for failure in FAILURES if failure[0] is not UNREACHABLE],
]

EXTENDED = [
    (Touched(1_800_000_000.0), JsonAnswer(200, {"status": 201, "expires": "2027-01-15T08:00:00+00:00"})),
    *FAILURES,
]


def _ids(table):
    return [f"{type(result).__name__}-{answer.status}" for result, answer in table]


@pytest.mark.parametrize("result, answer", LOGIN, ids=_ids(LOGIN))
def test_login(result, answer):
    assert session_answers.login(result) == answer


@pytest.mark.parametrize("result, answer", UPDATE_PASSWORD, ids=_ids(UPDATE_PASSWORD))
def test_update_password(result, answer):
    assert session_answers.update_password(result) == answer


@pytest.mark.parametrize("result, answer", SIGNUP, ids=_ids(SIGNUP))
def test_signup(result, answer):
    assert session_answers.signup(result) == answer


@pytest.mark.parametrize("result, answer", EXTENDED, ids=_ids(EXTENDED))
def test_extend_login_session(result, answer):
    assert session_answers.extended_session(result) == answer


@pytest.mark.parametrize(
    "result, answer", [(UserRevoked(2), JsonAnswer(200, {"user_id": "u", "revoked": 2})), *FAILURES]
)
def test_revoked_user(result, answer):
    assert session_answers.revoked_user("u", result) == answer
