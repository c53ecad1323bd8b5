"""Structured logs (secret-looking fields dropped, request ids from the context), request ids in
ZeroMQ items, and key-file permissions."""

from __future__ import annotations

import json
import logging
import stat

import pytest

from contract.messages import key_file_problem
from contract.requests import SigningRequest, valid_request_id
from contract.session_commands import Logout, SessionRequest
from service_runtime.jsonlog import REQUEST_ID, JsonFormatter, TextFormatter


def record(**extra) -> logging.LogRecord:
    entry = logging.LogRecord("t", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    for key, value in extra.items():
        setattr(entry, key, value)
    return entry


def test_json_lines_carry_context_and_never_secret_looking_fields():
    line = JsonFormatter("frontdoor").format(
        record(
            event="session_create",
            user_id="u@x",
            status="success",
            password="hunter2",
            new_password="p2",
            secret_key="SECRETKEY",
            Authorization="BackendAI x",
            cookie="COOKIEVALUE",
            session_id="SESSIONID",
            token="TOKENVALUE",
            signature="SIGVALUE",
            redis_password="REDISPW",
        )
    )
    doc = json.loads(line)
    assert doc["msg"] == "hello world" and doc["process"] == "frontdoor" and doc["event"] == "session_create"
    assert doc["user_id"] == "u@x" and doc["status"] == "success"
    for leaked in (
        "hunter2",
        '"p2"',
        "SECRETKEY",
        "BackendAI",
        "COOKIEVALUE",
        "SESSIONID",
        "TOKENVALUE",
        "SIGVALUE",
        "REDISPW",
    ):
        assert leaked not in line


def test_the_request_id_of_the_context_is_added_to_every_line():
    token = REQUEST_ID.set("req-123")
    try:
        assert json.loads(JsonFormatter("x").format(record()))["request_id"] == "req-123"
        # An explicit one (e.g. a signer logging the id an item carried) is kept.
        assert json.loads(JsonFormatter("x").format(record(request_id="other")))["request_id"] == "other"
        assert "request_id=req-123" in TextFormatter("x").format(record(event="e"))
    finally:
        REQUEST_ID.reset(token)
    assert "request_id" not in json.loads(JsonFormatter("x").format(record()))


def test_text_format_is_one_readable_line():
    line = TextFormatter("signer_worker").format(record(event="sign_request", status="failure"))
    assert "\n" not in line and "INFO" in line and "signer_worker: hello world" in line
    assert "event=sign_request" in line and "status=failure" in line


@pytest.mark.parametrize(
    "value, ok",
    [
        ("a1b2c3", True),
        ("0f0e-1234-abcd", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("", False),
        ("é", False),
        ("a b", False),
        ("a\nb", False),
        ("a_b", False),
        (None, False),
        (12, False),
    ],
)
def test_request_id_values(value, ok):
    assert valid_request_id(value) is ok


def signing_item(**overrides) -> dict:
    item = SigningRequest(1, "s" * 32, "GET", "/auth", "m:1", "application/json", "v7").to_item()
    item.update(overrides)
    return item


@pytest.mark.parametrize(
    "request_id, accepted",
    [
        ("abc-123", True),
        ("", True),
        (None, False),
        ("bad id", False),
        ("x" * 65, False),
        (7, False),
    ],
)
def test_items_carry_an_optional_validated_request_id(request_id, accepted):
    for build, parse in (
        (lambda rid: signing_item(request_id=rid), SigningRequest.from_item),
        (
            lambda rid: {**SessionRequest(1, Logout("x")).to_wire(), "request_id": rid},
            SessionRequest.from_wire,
        ),
    ):
        item = build(request_id)
        if accepted:
            assert parse(item).request_id == request_id
        else:
            with pytest.raises(ValueError, match="request_id"):
                parse(item)


def test_items_without_a_request_id_are_still_accepted():
    item = signing_item()
    del item["request_id"]
    assert SigningRequest.from_item(item).request_id == ""
    assert SessionRequest.from_wire({"rid": 1, "op": "logout", "args": {"session_id": "x"}}).request_id == ""


OWN_GID, OTHER_GID = 1000, 2000


@pytest.mark.parametrize(
    "mode, gid, ok",
    [
        (0o600, OTHER_GID, True),
        (0o400, OTHER_GID, True),
        (0o440, OWN_GID, True),  # a Kubernetes secret volume with fsGroup = our group
        (0o440, OTHER_GID, False),
        (0o460, OWN_GID, False),  # group write
        (0o640, OTHER_GID, False),
        (0o604, OWN_GID, False),
        (0o644, OWN_GID, False),
        (0o610, OWN_GID, False),
    ],
)
def test_key_file_permissions(mode, gid, ok):
    assert (key_file_problem(stat.S_IFREG | mode, gid, OWN_GID) is None) is ok
