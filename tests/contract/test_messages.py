"""The ZeroMQ message codec: authenticity, expiry, replay, and junk of every shape."""

import json
import time

import pytest
from hypothesis import given, settings, strategies as st

from contract.messages import MessageOpener, MessageSealer, RejectedMessage, ReplayGuard

KEY = bytes(range(32))


def test_round_trip():
    frames = MessageSealer(KEY, 5).seal("sign", [{"rid": 1}])
    envelope = MessageOpener(KEY, 5).open(frames)
    assert envelope.kind == "sign" and envelope.items == [{"rid": 1}]


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda f: [f[0], b"\0" * 32], "bad_mac"),
        (lambda f: [f[0]], "frame_count"),
        (lambda f: [f[0] + b" ", f[1]], "bad_mac"),
        (lambda f: [*f, b"x"], "frame_count"),
    ],
)
def test_tampered_messages_are_rejected(mutate, reason):
    frames = MessageSealer(KEY, 5).seal("sign", [])
    with pytest.raises(RejectedMessage) as caught:
        MessageOpener(KEY, 5).open(mutate(frames))
    assert caught.value.reason == reason


def test_other_key_is_rejected():
    frames = MessageSealer(b"k" * 32, 5).seal("sign", [])
    with pytest.raises(RejectedMessage, match="bad_mac"):
        MessageOpener(KEY, 5).open(frames)


def test_replay_is_rejected():
    opener = MessageOpener(KEY, 5)
    frames = MessageSealer(KEY, 5).seal("sign", [])
    opener.open(frames)
    with pytest.raises(RejectedMessage, match="replay"):
        opener.open(frames)


def _sealed(doc: dict) -> list[bytes]:
    import hashlib
    import hmac

    body = json.dumps(doc).encode()
    return [body, hmac.new(KEY, body, hashlib.sha256).digest()]


@pytest.mark.parametrize(
    "doc, reason",
    [
        ({"v": 1, "kind": "sign", "id": "a" * 24, "exp": time.time() - 1, "items": []}, "expired"),
        ({"v": 1, "kind": "sign", "id": "a" * 24, "exp": time.time() + 3600, "items": []}, "future"),
        ({"v": 2, "kind": "sign", "id": "a" * 24, "exp": time.time() + 1, "items": []}, "version"),
        ({"v": 1, "kind": 3, "id": "a" * 24, "exp": time.time() + 1, "items": []}, "schema"),
        ({"v": 1, "kind": "sign", "id": "short", "exp": time.time() + 1, "items": []}, "schema"),
        ({"v": 1, "kind": "sign", "id": "a" * 24, "exp": "soon", "items": []}, "schema"),
        ({"v": 1, "kind": "sign", "id": "a" * 24, "exp": time.time() + 1, "items": [1]}, "schema"),
    ],
)
def test_authentic_but_unacceptable(doc, reason):
    with pytest.raises(RejectedMessage) as caught:
        MessageOpener(KEY, 5).open(_sealed(doc))
    assert caught.value.reason == reason


def test_replay_guard_forgets_expired_ids_and_fails_closed_when_full():
    guard = ReplayGuard(capacity=2)
    assert guard.admit("a", expires_at=10, now=0)
    assert guard.admit("b", expires_at=10, now=0)
    assert not guard.admit("c", expires_at=10, now=0)  # full: refuse rather than forget a live id
    assert guard.admit("c", expires_at=30, now=20)  # a and b expired
    assert not guard.admit("c", expires_at=30, now=21)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=4))
def test_random_frames_never_escape_as_other_errors(frames):
    try:
        MessageOpener(KEY, 5).open(frames)
    except RejectedMessage:
        pass


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)))
def test_authentic_junk_json_is_rejected_or_opened_cleanly(doc):
    try:
        MessageOpener(KEY, 5).open(_sealed(doc))
    except RejectedMessage:
        pass
