"""What the front door asks of the session daemon: one typed command per item of a ``session`` message.

On the wire an item is ``{"rid", "op", "args", "request_id"}``; ``SessionRequest.from_wire`` rebuilds
the command and checks every argument (login fields by ``contract.login_fields``, the rule the front
door applies too), so a malformed item is a ``ValueError`` for that item alone, whose message names the
field and never its value.  Secrets (passwords) stay out of reprs.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from contract.login_fields import as_sentence, password_problem, username_problem
from contract.requests import MAX_FIELD_LENGTH, checked_field, kind_of, request_id_of, rid_of

MAX_SESSION_ID = 128
# An X-BackendAI-Encoded body the daemon decodes: ASCII, so its reply (the plaintext in base64, no longer
# than this) stays far below the hop's 1 MiB frame.
MAX_ENCODED_BODY = 256 * 1024
MAX_FORWARDED = 255
FORWARDED_ARGS = ("client_ip", "forwarded_host", "forwarded_proto")


@dataclass(frozen=True, slots=True)
class Forwarded:
    """The browser-facing facts the Manager sees as X-Forwarded-* headers (empty: not sent)."""

    client_ip: str = ""
    host: str = ""
    proto: str = ""

    def to_args(self) -> dict[str, str]:
        return {"client_ip": self.client_ip, "forwarded_host": self.host, "forwarded_proto": self.proto}

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> Forwarded:
        """Absent or empty is fine; a line break (header injection) or a long value is not."""
        problem = "The {} field must be a short single-line string."
        values = (checked_field(args, name, _short_line_or_nothing, problem.format(name)) for name in FORWARDED_ARGS)
        return cls(*(value or "" for value in values))


# ---- the commands ----


@dataclass(frozen=True, slots=True)
class Login:
    """A password login; the counter of failed logins applies."""

    OP: ClassVar[str] = "login"
    username: str
    password: str = field(repr=False)
    extras: dict[str, Any] = field(default_factory=dict)  # the browser body's other keys (otp, force, ...)
    forwarded: Forwarded = Forwarded()

    def to_args(self) -> dict[str, Any]:
        return {"username": self.username, "password": self.password, "extras": self.extras, **self.forwarded.to_args()}

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> Login:
        return cls(login_name(args, "username"), password(args, "password"), extras(args), Forwarded.from_args(args))


@dataclass(frozen=True, slots=True)
class TokenLogin:
    """Backend.AI's token login: the token travels in the extras, for the Manager's authorize hook."""

    OP: ClassVar[str] = "token_login"
    extras: dict[str, Any] = field(repr=False)  # holds the token
    forwarded: Forwarded = Forwarded()

    def to_args(self) -> dict[str, Any]:
        return {"extras": self.extras, **self.forwarded.to_args()}

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> TokenLogin:
        return cls(extras(args), Forwarded.from_args(args))


@dataclass(frozen=True, slots=True)
class Signup:
    OP: ClassVar[str] = "signup"
    email: str
    password: str = field(repr=False)
    extras: dict[str, Any] = field(default_factory=dict)
    forwarded: Forwarded = Forwarded()

    def to_args(self) -> dict[str, Any]:
        return {"email": self.email, "password": self.password, "extras": self.extras, **self.forwarded.to_args()}

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> Signup:
        return cls(login_name(args, "email"), password(args, "password"), extras(args), Forwarded.from_args(args))


@dataclass(frozen=True, slots=True)
class UpdatePassword:
    """Backend.AI's update-password-no-auth (an expired password); tests the current one, so throttled."""

    OP: ClassVar[str] = "update_password_no_auth"
    username: str
    current_password: str = field(repr=False)
    new_password: str = field(repr=False)
    forwarded: Forwarded = Forwarded()

    def to_args(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "current_password": self.current_password,
            "new_password": self.new_password,
            **self.forwarded.to_args(),
        }

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> UpdatePassword:
        return cls(
            login_name(args, "username"),
            password(args, "current_password"),
            password(args, "new_password"),
            Forwarded.from_args(args),
        )


@dataclass(frozen=True, slots=True)
class Logout:
    OP: ClassVar[str] = "logout"
    session_id: str = field(repr=False)

    def to_args(self) -> dict[str, Any]:
        return {"session_id": self.session_id}

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> Logout:
        return cls(text(args, "session_id", MAX_SESSION_ID))


@dataclass(frozen=True, slots=True)
class Touch:
    """Slide a session's expiry (at most once per ``touch_interval``, the front door decides)."""

    OP: ClassVar[str] = "touch"
    session_id: str = field(repr=False)

    def to_args(self) -> dict[str, Any]:
        return {"session_id": self.session_id}

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> Touch:
        return cls(text(args, "session_id", MAX_SESSION_ID))


@dataclass(frozen=True, slots=True)
class RevokeUser:
    """End every session of one user (an admin's revoke; the ``user_id`` of the sessions, not a login name)."""

    OP: ClassVar[str] = "revoke_user"
    user_id: str

    def to_args(self) -> dict[str, Any]:
        return {"user_id": self.user_id}

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> RevokeUser:
        return cls(text(args, "user_id"))


@dataclass(frozen=True, slots=True)
class DecodeBody:
    """An ``X-BackendAI-Encoded`` body to decode for the endpoint the browser believes it uses: the daemon
    holds the cipher library, so the front door never loads it (~7 MiB each)."""

    OP: ClassVar[str] = "decode_body"
    body: str = field(repr=False)  # ``<iv>:<base64>``, printable ASCII (it often holds a password)
    endpoint: str

    def to_args(self) -> dict[str, Any]:
        return {"body": self.body, "endpoint": self.endpoint}

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> DecodeBody:
        body = checked_field(args, "body", encoded_text, "The body field must be printable ASCII of bounded size.")
        return cls(body, text(args, "endpoint"))


SessionCommand = Login | TokenLogin | Signup | UpdatePassword | Logout | Touch | RevokeUser | DecodeBody
COMMANDS: dict[str, type[SessionCommand]] = {
    command.OP: command
    for command in (Login, TokenLogin, Signup, UpdatePassword, Logout, Touch, RevokeUser, DecodeBody)
}


def _wire_args(command: type[SessionCommand]) -> tuple[str, ...]:
    """The argument names a command travels with: its fields, ``forwarded`` spelled out."""
    return tuple(name for f in fields(command) for name in (FORWARDED_ARGS if f.name == "forwarded" else (f.name,)))


ARGS: dict[str, tuple[str, ...]] = {op: _wire_args(command) for op, command in COMMANDS.items()}


@dataclass(frozen=True, slots=True)
class SessionRequest:
    """One item: a command, the request id its answer comes back under, and the browser request's id."""

    rid: int
    command: SessionCommand
    request_id: str = ""  # for the daemon's logs

    def to_wire(self) -> dict[str, Any]:
        return {"rid": self.rid, "op": self.command.OP, "args": self.command.to_args(), "request_id": self.request_id}

    @classmethod
    def from_wire(cls, item: dict[str, Any]) -> SessionRequest:
        command = kind_of(item, "op", COMMANDS, "session operation")
        args = checked_field(
            item,
            "args",
            lambda value: isinstance(value, dict) and not set(value) - set(ARGS[command.OP]),
            f"arguments of {command.OP!r} must be a subset of {ARGS[command.OP]}",
        )
        return cls(rid_of(item), command.from_args(args), request_id_of(item))


# ---- argument checks (each message names the field, never its value) ----


def text(args: dict[str, Any], name: str, limit: int = MAX_FIELD_LENGTH) -> str:
    """A required non-empty single-line string of at most ``limit`` characters."""
    value = _required(args, name)
    if len(value) > limit:
        raise ValueError(f"The {name} field is longer than {limit} characters.")
    if _has_control(value):
        raise ValueError(f"The {name} field contains control characters.")
    return value


def login_name(args: dict[str, Any], name: str) -> str:
    """A user name or e-mail address, by the rule of ``contract.login_fields``."""
    value = _required(args, name)
    problem = username_problem(value)
    if problem is not None:
        raise ValueError(as_sentence(problem))
    return value


def password(args: dict[str, Any], name: str) -> str:
    value = _required(args, name)
    problem = password_problem(value)
    if problem is not None:
        raise ValueError(as_sentence(problem))
    return value


def extras(args: dict[str, Any]) -> dict[str, Any]:
    """Other keys of the browser's login body; the daemon keeps them from overriding its own fields."""
    value = checked_field(args, "extras", _object_or_nothing, "The extras field must be a JSON object.")
    return value or {}


def encoded_text(value: Any) -> bool:
    """What an encoded body may be on the hop: non-empty printable ASCII (no line breaks) of bounded size."""
    return isinstance(value, str) and 0 < len(value) <= MAX_ENCODED_BODY and value.isascii() and value.isprintable()


def _required(args: dict[str, Any], name: str) -> str:
    return checked_field(args, name, _non_empty_text, f"You must provide the {name} field.")


def _non_empty_text(value: Any) -> bool:
    return isinstance(value, str) and value != ""


def _object_or_nothing(value: Any) -> bool:
    return not value or isinstance(value, dict)


def _short_line_or_nothing(value: Any) -> bool:
    return not value or (isinstance(value, str) and len(value) <= MAX_FORWARDED and not _has_control(value))


def _has_control(value: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in value)
