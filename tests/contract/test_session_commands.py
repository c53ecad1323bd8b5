"""The session daemon's typed commands and results: round trips, and the refusals of malformed items
(the checks the daemon answers ``InvalidCommand`` with, tested here without a socket)."""

from __future__ import annotations

import json

import pytest

from contract.login_fields import MAX_PASSWORD
from contract.session_commands import (
    MAX_ENCODED_BODY,
    DecodeBody,
    Forwarded,
    Login,
    Logout,
    RevokeUser,
    SessionRequest,
    Signup,
    TokenLogin,
    Touch,
    UpdatePassword,
)
from contract.session_results import (
    BodyDecoded,
    BodyUndecodable,
    InternalError,
    InvalidCommand,
    LoggedOut,
    LoginBlocked,
    LoginSucceeded,
    ManagerRefused,
    ManagerUnavailable,
    PasswordChanged,
    SessionReply,
    SessionUnknown,
    SignedUp,
    StoreUnavailable,
    Touched,
    UserRevoked,
)

FORWARDED = Forwarded("203.0.113.7", "webui.example.com", "https")
COMMANDS = [
    Login("admin@lablup.com", "pa55-word", {"otp": "123456"}, FORWARDED),
    TokenLogin({"sToken": "t0ken"}, FORWARDED),
    Signup("new@lablup.com", "pa55-word", {"username": "new"}, FORWARDED),
    UpdatePassword("admin@lablup.com", "old-pa55", "new-pa55", FORWARDED),
    Logout("s" * 32),
    Touch("s" * 32),
    RevokeUser("token:AKIAIOSFODNN7EXAMPLE"),
    DecodeBody("abcdefghijklmnop:ZW5jb2RlZC1wYTU1", "https://webui.example.com"),
]
RESULTS = [
    LoginSucceeded("s" * 32, "AKIAIOSFODNN7EXAMPLE", "superadmin", "active"),
    LoginBlocked(1200),
    ManagerRefused(401, "https://api.backend.ai/probs/auth-failed", "Credential/signature mismatch.", "mismatch"),
    ManagerRefused(400, "about:blank", "Bad Request"),
    ManagerUnavailable("Cannot connect to the Manager."),
    SignedUp(201, "AKIAIOSFODNN7EXAMPLE"),
    SignedUp(201, None),
    PasswordChanged("2026-01-01T00:00:00+00:00"),
    PasswordChanged(None),
    LoggedOut(),
    Touched(1_800_000_000.5),
    SessionUnknown(),
    UserRevoked(3),
    BodyDecoded("eyJwYXNzd29yZCI6ICJkZWNvZGVkLXBhNTUifQ=="),
    BodyUndecodable(),
    InvalidCommand("You must provide the username field."),
    StoreUnavailable(),
    InternalError(),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.OP)
def test_commands_round_trip_through_json(command):
    item = json.loads(json.dumps(SessionRequest(5, command, "req-1").to_wire()))
    assert SessionRequest.from_wire(item) == SessionRequest(5, command, "req-1")


@pytest.mark.parametrize("result", RESULTS, ids=lambda result: result.TAG)
def test_results_round_trip_through_json(result):
    item = json.loads(json.dumps(SessionReply(9, result).to_wire()))
    assert SessionReply.from_wire(item) == SessionReply(9, result)


def test_secrets_stay_out_of_reprs():
    shown = repr([*COMMANDS, *(result for result in RESULTS if isinstance(result, (LoginSucceeded, BodyDecoded)))])
    for secret in ("pa55-word", "old-pa55", "new-pa55", "t0ken", "s" * 32, "ZW5jb2RlZC1wYTU1", "eyJwYXNzd29y"):
        assert secret not in shown


def _login_args(**changes):
    return {"username": "admin@lablup.com", "password": "pw"} | changes


# (item, a fragment of the refusal): each names the field, never the value.
MALFORMED = [
    pytest.param({"rid": 1, "op": "nope", "args": {}}, "unknown session operation", id="unknown-op"),
    pytest.param({"rid": 1, "op": "login", "args": "x"}, "subset", id="args-not-object"),
    pytest.param({"rid": 1, "op": "login", "args": _login_args(bogus=1)}, "subset", id="extra-arg"),
    pytest.param({"rid": 1, "op": "login", "args": {"username": "a"}}, "password field", id="missing-password"),
    pytest.param({"rid": 1, "op": "login", "args": _login_args(username="")}, "username field", id="empty-username"),
    pytest.param({"rid": 1, "op": "login", "args": _login_args(username=5)}, "username field", id="username-number"),
    pytest.param({"rid": 1, "op": "login", "args": _login_args(username=" a@b.co")}, "blanks", id="username-blank"),
    pytest.param({"rid": 1, "op": "login", "args": _login_args(username="a@@b.co")}, "'@'", id="username-two-at"),
    pytest.param({"rid": 1, "op": "login", "args": _login_args(password="a\0b")}, "NUL", id="password-nul"),
    pytest.param(
        {"rid": 1, "op": "login", "args": _login_args(password="p" * (MAX_PASSWORD + 1))},
        "longer",
        id="password-long",
    ),
    pytest.param({"rid": 1, "op": "signup", "args": {"email": "x y", "password": "p"}}, "blanks", id="signup-email"),
    pytest.param(
        {"rid": 1, "op": "update_password_no_auth", "args": {"username": "a", "current_password": "p"}},
        "new_password field",
        id="missing-new-password",
    ),
    pytest.param({"rid": 1, "op": "login", "args": _login_args(extras=[1])}, "extras", id="extras-not-object"),
    pytest.param(
        {"rid": 1, "op": "login", "args": _login_args(client_ip="1.2.3.4\r\nX-Evil: 1")},
        "client_ip",
        id="header-injection",
    ),
    pytest.param({"rid": 1, "op": "logout", "args": {"session_id": ""}}, "session_id", id="empty-session-id"),
    pytest.param({"rid": 1, "op": "touch", "args": {"session_id": "x" * 500}}, "session_id", id="long-session-id"),
    pytest.param({"rid": 1, "op": "revoke_user", "args": {}}, "user_id", id="missing-user-id"),
    pytest.param({"rid": 1, "op": "revoke_user", "args": {"user_id": "a\nb"}}, "control", id="user-id-newline"),
    pytest.param({"rid": 1, "op": "decode_body", "args": {"endpoint": "https://x"}}, "body field", id="no-body"),
    pytest.param(
        {"rid": 1, "op": "decode_body", "args": {"body": "a\nb", "endpoint": "https://x"}},
        "body field",
        id="body-newline",
    ),
    pytest.param(
        {"rid": 1, "op": "decode_body", "args": {"body": "é", "endpoint": "https://x"}},
        "body field",
        id="body-not-ascii",
    ),
    pytest.param(
        {"rid": 1, "op": "decode_body", "args": {"body": "a" * (MAX_ENCODED_BODY + 1), "endpoint": "https://x"}},
        "bounded size",
        id="body-too-long",
    ),
    pytest.param({"rid": 1, "op": "decode_body", "args": {"body": "a"}}, "endpoint", id="no-endpoint"),
    pytest.param({"rid": -1, "op": "touch", "args": {"session_id": "x"}}, "rid", id="bad-rid"),
    pytest.param({"rid": 1, "op": "touch", "args": {"session_id": "x"}, "request_id": "a b"}, "request_id", id="rqid"),
]


@pytest.mark.parametrize("item, fragment", MALFORMED)
def test_malformed_commands_are_refused_naming_the_field(item, fragment):
    with pytest.raises(ValueError) as caught:
        SessionRequest.from_wire(item)
    assert fragment in str(caught.value)
    for value in ("1.2.3.4", "x" * 500, "a\0b", "p" * 20):
        assert value not in str(caught.value)


@pytest.mark.parametrize(
    "item",
    [
        pytest.param({"rid": 1, "result": "nope"}, id="unknown-tag"),
        pytest.param({"rid": 1, "status": 200, "body": {}}, id="http-shape"),
        pytest.param({"rid": 1, "result": "touched"}, id="missing-field"),
        pytest.param({"rid": 1, "result": "touched", "expires_at": "soon"}, id="time-not-number"),
        pytest.param({"rid": 1, "result": "touched", "expires_at": float("inf")}, id="time-infinite"),
        pytest.param({"rid": 1, "result": "user_revoked", "count": True}, id="count-bool"),
        pytest.param({"rid": 1, "result": "user_revoked", "count": -1}, id="count-negative"),
        pytest.param({"rid": 1, "result": "login_blocked", "retry_after": 1.5}, id="retry-float"),
        pytest.param({"rid": 1, "result": "manager_refused", "status": 99, "type": "t", "title": "x"}, id="status"),
        pytest.param({"rid": 1, "result": "signed_up", "status": "201", "access_key": None}, id="status-text"),
        pytest.param(
            {"rid": 1, "result": "login_succeeded", "session_id": "s", "access_key": None, "role": "r", "status": "a"},
            id="no-access-key",
        ),
        pytest.param(
            {"rid": 1, "result": "login_succeeded", "session_id": "s", "access_key": "a", "role": "r", "status": 200},
            id="user-status-number",
        ),
        pytest.param({"rid": "1", "result": "logged_out"}, id="rid-text"),
        pytest.param({"rid": 1, "result": "body_decoded", "body": "x" * (MAX_ENCODED_BODY + 1)}, id="body-long"),
        pytest.param({"rid": 1, "result": "body_decoded"}, id="body-missing"),
    ],
)
def test_malformed_results_are_refused(item):
    with pytest.raises(ValueError):
        SessionReply.from_wire(item)
