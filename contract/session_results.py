"""What the session daemon answers: one typed domain result per command, no HTTP in it.

The front door alone turns a result into a status and a Backend.AI body (``frontdoor.session_answers``).
On the wire a result is ``{"rid", "result": <tag>, ...its fields}``; ``SessionReply.from_wire`` checks
the tag and the type of every field, so a malformed reply is a ``ValueError``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable, ClassVar

from contract.requests import checked_field, kind_of, rid_of
from contract.session_commands import MAX_ENCODED_BODY

# ---- logins (password and token) ----


@dataclass(frozen=True, slots=True)
class LoginSucceeded:
    TAG: ClassVar[str] = "login_succeeded"
    session_id: str = field(repr=False)  # the new cookie value: never in a log line
    access_key: str
    role: str
    status: str  # the keypair owner's status at the Manager ("active", ...)


@dataclass(frozen=True, slots=True)
class LoginBlocked:
    """Too many failed logins for this account: refused before the Manager is asked."""

    TAG: ClassVar[str] = "login_blocked"
    retry_after: int  # seconds


@dataclass(frozen=True, slots=True)
class ManagerRefused:
    """The Manager's own refusal (its status and problem fields), passed on: a wrong password, a taken e-mail..."""

    TAG: ClassVar[str] = "manager_refused"
    status: int
    type: str
    title: str
    msg: str | None = None


@dataclass(frozen=True, slots=True)
class ManagerUnavailable:
    """No usable answer from the Manager (unreachable, timed out, no keypair in it)."""

    TAG: ClassVar[str] = "manager_unavailable"
    reason: str  # short and secret-free: it goes to the browser


# ---- other commands ----


@dataclass(frozen=True, slots=True)
class SignedUp:
    """The Manager created the account; its secret key stayed in the daemon (dropped)."""

    TAG: ClassVar[str] = "signed_up"
    status: int  # the Manager's success status (201), passed on as Backend.AI does
    access_key: str | None


@dataclass(frozen=True, slots=True)
class PasswordChanged:
    TAG: ClassVar[str] = "password_changed"
    changed_at: str | None


@dataclass(frozen=True, slots=True)
class LoggedOut:
    TAG: ClassVar[str] = "logged_out"


@dataclass(frozen=True, slots=True)
class Touched:
    TAG: ClassVar[str] = "touched"
    expires_at: float  # epoch seconds


@dataclass(frozen=True, slots=True)
class SessionUnknown:
    """No such live session (never was, expired, or revoked)."""

    TAG: ClassVar[str] = "session_unknown"


@dataclass(frozen=True, slots=True)
class UserRevoked:
    TAG: ClassVar[str] = "user_revoked"
    count: int  # sessions ended


@dataclass(frozen=True, slots=True)
class BodyDecoded:
    TAG: ClassVar[str] = "body_decoded"
    body: str = field(repr=False)  # the plaintext in base64: it may be any bytes, and often holds a password


@dataclass(frozen=True, slots=True)
class BodyUndecodable:
    """Not ``<16-character IV>:<base64>`` that decrypts and unpads with the endpoint's key."""

    TAG: ClassVar[str] = "body_undecodable"


# ---- failures any command may meet ----


@dataclass(frozen=True, slots=True)
class InvalidCommand:
    """The item could not be decoded; ``details`` names the field, never its value."""

    TAG: ClassVar[str] = "invalid_command"
    details: str


@dataclass(frozen=True, slots=True)
class StoreUnavailable:
    TAG: ClassVar[str] = "store_unavailable"


@dataclass(frozen=True, slots=True)
class InternalError:
    TAG: ClassVar[str] = "internal_error"


SessionResult = (
    LoginSucceeded
    | LoginBlocked
    | ManagerRefused
    | ManagerUnavailable
    | SignedUp
    | PasswordChanged
    | LoggedOut
    | Touched
    | SessionUnknown
    | UserRevoked
    | BodyDecoded
    | BodyUndecodable
    | InvalidCommand
    | StoreUnavailable
    | InternalError
)
RESULTS: dict[str, type[SessionResult]] = {
    result.TAG: result
    for result in (
        LoginSucceeded,
        LoginBlocked,
        ManagerRefused,
        ManagerUnavailable,
        SignedUp,
        PasswordChanged,
        LoggedOut,
        Touched,
        SessionUnknown,
        UserRevoked,
        BodyDecoded,
        BodyUndecodable,
        InvalidCommand,
        StoreUnavailable,
        InternalError,
    )
}
MAX_TEXT = 2048


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _optional_text(value: Any) -> bool:
    return value is None or _text(value)


def _base64_body(value: Any) -> bool:
    # The plaintext is shorter than the ciphertext, so its base64 is at most the encoded body's size.
    return isinstance(value, str) and len(value) <= MAX_ENCODED_BODY


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _status(value: Any) -> bool:
    return _count(value) and 100 <= value <= 599


def _time(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float: no time, and no crash of the reader
        return False


# The check of each field, by name (a field of the same name means the same thing in every result).
_FIELD_CHECKS: dict[str, Callable[[Any], bool]] = {
    "session_id": _text,
    "access_key": _optional_text,  # required (and checked as text) for a LoginSucceeded below
    "role": _text,
    "status": lambda value: _status(value) or _text(value),
    "retry_after": _count,
    "type": _text,
    "title": _text,
    "msg": _optional_text,
    "reason": _text,
    "changed_at": _optional_text,
    "expires_at": _time,
    "count": _count,
    "details": _text,
    "body": _base64_body,
}
# Fields whose meaning differs by result: LoginSucceeded.status is the user's status, the others an HTTP one.
_STRICTER: dict[tuple[type, str], Callable[[Any], bool]] = {
    (LoginSucceeded, "status"): _text,
    (LoginSucceeded, "access_key"): _text,
    (ManagerRefused, "status"): _status,
    (SignedUp, "status"): _status,
}


@dataclass(frozen=True, slots=True)
class SessionReply:
    rid: int
    result: SessionResult

    def to_wire(self) -> dict[str, Any]:
        item: dict[str, Any] = {"rid": self.rid, "result": self.result.TAG}
        for each in fields(self.result):
            item[each.name] = getattr(self.result, each.name)
        return item

    @classmethod
    def from_wire(cls, item: dict[str, Any]) -> SessionReply:
        kind = kind_of(item, "result", RESULTS, "session result")
        values = {}
        for each in fields(kind):
            check = _STRICTER.get((kind, each.name)) or _FIELD_CHECKS[each.name]
            problem = f"field {each.name!r} of a {kind.TAG!r} result is missing or malformed"
            value = checked_field(item, each.name, check, problem)
            values[each.name] = float(value) if each.name == "expires_at" else value
        return cls(rid_of(item), kind(**values))
