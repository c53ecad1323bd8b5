"""The ZeroMQ message codec: authenticity, expiry, replay, and junk of every shape."""

import hashlib
import hmac
import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contract.messages import MAC_BYTES, MAX_FRAME_BYTES, MessageOpener, MessageSealer, RejectedMessage, ReplayGuard

KEY = bytes(range(32))


def test_round_trip():
    frames = MessageSealer(KEY, 5).seal("sign", [{"rid": 1}])
    envelope = MessageOpener(KEY, 5).open(frames)
    assert envelope.kind == "sign" and envelope.items == [{"rid": 1}]


def test_a_message_is_one_frame_its_body_then_the_body_hmac():
    (frame,) = MessageSealer(KEY, 5).seal("sign", [{"rid": 1}])
    body, mac = frame[:-MAC_BYTES], frame[-MAC_BYTES:]
    assert mac == hmac.new(KEY, body, hashlib.sha256).digest()
    assert json.loads(body)["items"] == [{"rid": 1}]


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda f: [f[0][:-MAC_BYTES] + b"\0" * MAC_BYTES], "bad_mac"),
        (lambda f: [f[0][:-MAC_BYTES]], "bad_mac"),  # the body alone: its last bytes taken for the MAC
        (lambda f: [f[0][:-MAC_BYTES] + b" " + f[0][-MAC_BYTES:]], "bad_mac"),
        (lambda f: [f[0][:-MAC_BYTES], f[0][-MAC_BYTES:]], "frame_count"),  # two frames (the previous wire)
        (lambda f: [*f, b"x"], "frame_count"),
        (lambda f: [], "frame_count"),
        (lambda f: [f[0][: MAC_BYTES - 1]], "frame_count"),  # shorter than a MAC
        (lambda f: [b""], "frame_count"),
        (lambda f: [f[0][-MAC_BYTES:]], "bad_mac"),  # a MAC with an empty body before it
        (lambda f: [b"{" * (MAX_FRAME_BYTES + 1 - MAC_BYTES) + f[0][-MAC_BYTES:]], "too_large"),
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


def test_message_ids_are_unique_within_and_across_sealers():
    opener = MessageOpener(KEY, 5)
    ids = set()
    for sealer in [MessageSealer(KEY, 5) for _ in range(3)]:
        for _ in range(2000):
            envelope = opener.open(sealer.seal("sign", []))  # a repeated id would be refused as a replay
            assert 8 <= len(envelope.message_id) <= 64
            ids.add(envelope.message_id)
    assert len(ids) == 6000


def _sealed_body(body: bytes) -> list[bytes]:
    return [body + hmac.new(KEY, body, hashlib.sha256).digest()]


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode() + b" {}",  # a second document after the first
        lambda text: b" " + text.encode(),  # not the compact form every sender writes
        lambda text: text.encode("utf-16"),  # not UTF-8
        lambda text: text.encode()[:-1] + b"\xff}",  # invalid UTF-8
    ],
)
def test_an_authentic_body_that_is_not_one_compact_utf8_document_is_rejected(encode):
    text = json.dumps({"v": 1, "kind": "sign", "id": "a" * 24, "exp": time.time() + 1, "items": []})
    with pytest.raises(RejectedMessage) as caught:
        MessageOpener(KEY, 5).open(_sealed_body(encode(text)))
    assert caught.value.reason == "not_json"


def _sealed(doc: dict) -> list[bytes]:
    body = json.dumps(doc).encode()
    return [body + hmac.new(KEY, body, hashlib.sha256).digest()]


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


def test_replay_guard_forgets_expired_ids_in_one_sweep_a_second_not_at_every_message():
    guard = ReplayGuard()
    for n in range(5):  # one a millisecond, each valid 10 s
        assert guard.admit(f"m{n}", expires_at=10 + n / 1000, now=n / 1000)
    assert guard.admit("late", expires_at=20.5, now=10.5)  # m0-m4 expired, less than the slack ago
    assert len(guard) == 6 and not guard.admit("m0", expires_at=20.5, now=10.5)  # still a replay
    assert guard.admit("later", expires_at=21.1, now=11.1)  # the slack passed: one sweep
    assert len(guard) == 2


def test_a_full_replay_guard_sweeps_expired_ids_before_it_refuses():
    guard = ReplayGuard(capacity=2)
    assert guard.admit("a", expires_at=10, now=0)
    assert guard.admit("b", expires_at=10, now=0)
    assert guard.admit("c", expires_at=30, now=10.5)  # a and b expired, within the slack: swept, room made
    assert len(guard) == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=4))
def test_random_frames_never_escape_as_other_errors(frames):
    try:
        MessageOpener(KEY, 5).open(frames)
    except RejectedMessage:
        pass


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    )
)
def test_authentic_junk_json_is_rejected_or_opened_cleanly(doc):
    try:
        MessageOpener(KEY, 5).open(_sealed(doc))
    except RejectedMessage:
        pass


# ---- items inside messages, and the limits of the JSON decoder ----

from contract.requests import SigningReply, SigningRequest  # noqa: E402
from contract.session_commands import SessionRequest  # noqa: E402
from contract.session_results import SessionReply  # noqa: E402

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
VALID_ITEMS = {
    SigningRequest: {
        "rid": 1,
        "session_id": "a" * 32,
        "method": "GET",
        "target": "/auth?x=1",
        "host": "m:80",
        "content_type": "application/json",
        "api_version": "v7",
        "want_jwt": False,
    },
    SigningReply: {"rid": 1, "headers": {"Authorization": "x"}},
    SessionRequest: {"rid": 1, "op": "logout", "args": {"session_id": "a" * 32}},
    SessionReply: {"rid": 1, "result": "touched", "expires_at": 1.5e9},
}
# How each item class is read from and written to its wire dict.
CODECS = {
    SigningRequest: (SigningRequest.from_item, SigningRequest.to_item),
    SigningReply: (SigningReply.from_item, SigningReply.to_item),
    SessionRequest: (SessionRequest.from_wire, SessionRequest.to_wire),
    SessionReply: (SessionReply.from_wire, SessionReply.to_wire),
}


def test_a_time_beyond_any_float_is_refused_not_a_crash():
    """Hypothesis found it: ``math.isfinite`` raises OverflowError for such an integer."""
    with pytest.raises(ValueError):
        SessionReply.from_wire({"rid": 1, "result": "touched", "expires_at": 10**400})


@pytest.mark.parametrize("item_class", list(VALID_ITEMS))
@settings(max_examples=150, deadline=None)
@given(data=st.data(), value=JSON_VALUES, drop=st.booleans())
def test_items_with_any_field_changed_are_refused_or_round_trip(item_class, data, value, drop):
    item = dict(VALID_ITEMS[item_class])
    name = data.draw(st.sampled_from(list(item)) | st.text(max_size=12))
    if drop:
        item.pop(name, None)
    else:
        item[name] = value
    parse, dump = CODECS[item_class]
    try:
        parsed = parse(item)
    except ValueError:
        return
    # Compared as JSON text: a NaN inside free-form extras is never == itself.
    again = parse(json.loads(json.dumps(dump(parsed))))
    assert json.dumps(dump(again), sort_keys=True) == json.dumps(dump(parsed), sort_keys=True)


@pytest.mark.parametrize("item_class", list(VALID_ITEMS))
@settings(max_examples=60, deadline=None)
@given(item=st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=8))
def test_random_items_raise_only_value_error(item_class, item):
    try:
        CODECS[item_class][0](item)
    except ValueError:
        pass


@pytest.mark.parametrize("depth", [10_000, 200_000])
def test_deeply_nested_authentic_json_is_rejected_not_raised(depth):
    """A compromised peer holding the key must not crash a receiver with a stack-busting body."""
    body = b"[" * depth + b"]" * depth
    with pytest.raises(RejectedMessage) as caught:
        MessageOpener(KEY, 5).open(_signed(body))
    assert caught.value.reason == "not_json"


def _signed(body: bytes) -> list[bytes]:
    return [body + hmac.new(KEY, body, hashlib.sha256).digest()]


@settings(max_examples=120, deadline=None)
@given(st.dictionaries(st.sampled_from(["v", "kind", "id", "exp", "items", "x"]), JSON_VALUES, max_size=6))
def test_authentic_envelopes_of_any_shape_are_rejected_or_opened(doc):
    try:
        envelope = MessageOpener(KEY, 5).open(_sealed(doc))
    except RejectedMessage:
        return
    assert isinstance(envelope.items, list) and all(isinstance(item, dict) for item in envelope.items)


@pytest.mark.parametrize("name", ["session_id", "method", "target", "host", "content_type", "api_version"])
@pytest.mark.parametrize("character", ["\r", "\n", "\0"])
def test_a_line_break_or_nul_in_a_signed_field_is_refused(name, character):
    item = dict(VALID_ITEMS[SigningRequest])
    item[name] = item[name][:1] + character + item[name][1:]
    with pytest.raises(ValueError):
        SigningRequest.from_item(item)


def test_a_signed_item_is_the_item_of_a_signed_reply():
    headers = {"Date": "D", "Authorization": "A"}
    item = SigningReply.signed_item(7, headers)
    assert item == SigningReply(7, headers=headers).to_item()
    assert SigningReply.from_item(item) == SigningReply(7, headers=headers)


# ---- the two JSON codecs: orjson for ``sign`` bodies, the stdlib's exact reading for the rest ----


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode() + b"\n",  # orjson skips whitespace around the document
        lambda text: text.encode() + b" ",
        lambda text: b"\t" + text.encode(),
        lambda text: b"\r\n" + text.encode(),
        lambda text: b"",
    ],
)
@pytest.mark.parametrize("kind", ["sign", "session"])
def test_whitespace_around_an_authentic_body_is_rejected_whatever_its_kind(encode, kind):
    text = json.dumps({"v": 1, "kind": kind, "id": "a" * 24, "exp": time.time() + 1, "items": []})
    with pytest.raises(RejectedMessage) as caught:
        MessageOpener(KEY, 5).open(_sealed_body(encode(text)))
    assert caught.value.reason == "not_json"


def _same(a, b) -> bool:
    """Equal as JSON values, with NaN equal to itself and an int never equal to a float."""
    return type(a) is type(b) and json.dumps(a) == json.dumps(b)


BROWSER_VALUES = [float("nan"), float("inf"), -float("inf"), 2**70, -(2**70), 2**64, "\ud800", "é", 1e300, -0.0]


@pytest.mark.parametrize("value", BROWSER_VALUES, ids=repr)
def test_a_session_message_carries_any_value_of_a_browsers_json_exactly(value):
    """A login body's extras ride in session messages: orjson would write a NaN as null, refuse 2**70
    (and read it as a float), refuse a lone surrogate."""
    frames = MessageSealer(KEY, 5).seal("session", [{"rid": 1, "args": {"extras": {"x": value}}}])
    opened = MessageOpener(KEY, 5).open(frames).items[0]["args"]["extras"]["x"]
    assert _same(opened, value)


@pytest.mark.parametrize("value", BROWSER_VALUES, ids=repr)
def test_a_session_body_written_by_the_stdlib_is_read_exactly(value):
    doc = {"v": 1, "kind": "session", "id": "a" * 24, "exp": time.time() + 1, "items": [{"x": value}]}
    assert _same(MessageOpener(KEY, 5).open(_sealed(doc)).items[0]["x"], value)


@pytest.mark.parametrize("value", [float("nan"), 2**70, "\ud800"], ids=repr)
def test_a_sign_message_with_a_value_orjson_refuses_is_sealed_and_opened_not_a_crash(value):
    frames = MessageSealer(KEY, 5).seal("sign", [{"rid": 1, "x": value}])
    assert MessageOpener(KEY, 5).open(frames).items[0]["rid"] == 1


@pytest.mark.parametrize(
    "exp, reason",
    [
        (10**400, "schema"),  # beyond any float: an OverflowError before
        (-(10**400), "schema"),
        (float("inf"), "schema"),
        (float("-inf"), "schema"),
        (float("nan"), "schema"),  # accepted before, and never expired from the replay guard
        (True, "schema"),  # a boolean is no number here, though Python's bool is an int
        ("9999999999", "schema"),
    ],
    ids=["10**400", "-10**400", "inf", "-inf", "nan", "true", "string"],
)
@pytest.mark.parametrize("kind", ["sign", "session"])
def test_an_expiry_that_is_no_finite_float_is_refused_by_name(exp, reason, kind):
    doc = {"v": 1, "kind": kind, "id": "a" * 24, "exp": exp, "items": []}
    with pytest.raises(RejectedMessage) as caught:
        MessageOpener(KEY, 5).open(_sealed(doc))
    assert caught.value.reason == reason


@pytest.mark.parametrize("rid", [2**63, 2**64, 10**30, -1], ids=["2**63", "2**64", "10**30", "-1"])
@pytest.mark.parametrize("item_class", [SigningRequest, SigningReply, SessionRequest, SessionReply])
def test_a_request_id_beyond_63_bits_is_refused(rid, item_class):
    """orjson reads an integer beyond 64 bits as a float: a rid must be exact in both codecs."""
    item = {**VALID_ITEMS[item_class], "rid": rid}
    with pytest.raises(ValueError, match="rid"):
        CODECS[item_class][0](item)


def test_a_sign_body_is_written_by_orjson_and_read_back_the_same():
    item = {**VALID_ITEMS[SigningRequest], "rid": 2**63 - 1, "target": "/é?q=\u2028"}
    (frame,) = MessageSealer(KEY, 5).seal("sign", [item])
    body = frame[:-MAC_BYTES]
    assert MessageOpener(KEY, 5).open(_sealed_body(body)).items == [item]
    assert json.loads(body)["items"] == [item]  # one JSON document any reader reads the same


def test_a_sealed_message_expires_its_ttl_from_now_in_whole_milliseconds():
    before = time.time()
    body = MessageSealer(KEY, 7.5).seal("sign", [])[0][:-MAC_BYTES]
    after = time.time()
    expires_at = json.loads(body)["exp"]
    assert before + 7.5 - 0.001 <= expires_at <= after + 7.5
    assert expires_at == round(expires_at, 3)  # (as written on the wire: three decimals at most)
