"""The session daemon's typed results as HTTP answers: the one place their statuses and bodies are made.

Plain functions from a result to a ``JsonAnswer`` (status and JSON body, Backend.AI's shapes as its
webserver sends them, docs/protocol.md §4); the routes turn that into a response.  A result a route
cannot get from the daemon is an internal error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contract.session_results import (
    InternalError,
    InvalidCommand,
    LoginBlocked,
    LoginSucceeded,
    ManagerRefused,
    ManagerUnavailable,
    PasswordChanged,
    SessionResult,
    SessionUnknown,
    SignedUp,
    StoreUnavailable,
    Touched,
    UserRevoked,
)
from frontdoor.problems import PROBLEM_BASE


@dataclass(frozen=True, slots=True)
class JsonAnswer:
    status: int
    body: dict[str, Any]


def _problem(status: int, slug: str, title: str, **extra: Any) -> JsonAnswer:
    return JsonAnswer(status, {"type": PROBLEM_BASE + slug, "title": title, **extra})


def failure(result: SessionResult) -> JsonAnswer:
    """The answer to a result that is no success of its command, whatever the command was."""
    match result:
        case InvalidCommand(details=details):
            return _problem(400, "invalid-api-params", "Missing or invalid API parameters.", details=details)
        case SessionUnknown():
            return _problem(401, "auth-failed", "Unauthorized access")
        case LoginBlocked(retry_after=seconds):
            details = f"Blocked for {seconds} more seconds"
            return _problem(
                429, "too-many-requests", "Too many failed login attempts", details=details, retry_after=seconds
            )
        case ManagerUnavailable(reason=reason):
            return _problem(502, "bad-gateway", "The proxy target server is inaccessible.", details=reason)
        case StoreUnavailable():
            return _problem(503, "service-unavailable", "Session store unavailable.")
        case InternalError():
            return _problem(500, "internal-server-error", "Internal server error.")
    return _problem(500, "internal-server-error", "Internal server error.")  # a result out of place


def _refusal_data(refused: ManagerRefused) -> dict[str, Any]:
    return {"type": refused.type, "title": refused.title, "details": refused.msg or refused.title}


def login(result: SessionResult) -> JsonAnswer:
    """A password or token login; a Manager refusal keeps its status (the ``/server/`` paths say 200)."""
    match result:
        case LoginSucceeded():
            data = {"access_key": result.access_key, "role": result.role, "status": result.status}
            return JsonAnswer(200, {"authenticated": True, "data": data})
        case ManagerRefused():
            return JsonAnswer(result.status, {"authenticated": False, "data": _refusal_data(result)})
    return failure(result)


def update_password(result: SessionResult) -> JsonAnswer:
    """Backend.AI's shape: 200 for a change and for a refusal alike, unless the Manager cannot be asked."""
    match result:
        case PasswordChanged(changed_at=changed_at):
            return JsonAnswer(200, {"data": None, "password_changed_at": changed_at})
        case ManagerRefused():
            return JsonAnswer(200, {"data": _refusal_data(result), "password_changed_at": None})
    return failure(result)


def signup(result: SessionResult) -> JsonAnswer:
    """The Manager's status with the access key only, or its problem as it sent it."""
    match result:
        case SignedUp(status=status, access_key=access_key):
            return JsonAnswer(status, {"access_key": access_key})
        case ManagerRefused():
            body = {"type": result.type, "title": result.title}
            return JsonAnswer(result.status, body | ({"msg": result.msg} if result.msg else {}))
        case ManagerUnavailable(reason=reason):
            return JsonAnswer(502, {"type": PROBLEM_BASE + "bad-gateway", "title": reason})
    return failure(result)


def extended_session(result: SessionResult) -> JsonAnswer:
    """``/server/extend-login-session``: Backend.AI's 201-in-a-200 with the new expiry."""
    if isinstance(result, Touched):
        return JsonAnswer(200, {"status": 201, "expires": expiry_text(result.expires_at)})
    return failure(result)


def revoked_user(user_id: str, result: SessionResult) -> JsonAnswer:
    if isinstance(result, UserRevoked):
        return JsonAnswer(200, {"user_id": user_id, "revoked": result.count})
    return failure(result)


def expiry_text(expires_at: float) -> str:
    return datetime.fromtimestamp(expires_at, UTC).isoformat()
