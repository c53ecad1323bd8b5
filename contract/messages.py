"""Authenticated ZeroMQ messages between the front door, the signers and the session daemon.

A message is one frame: a compact UTF-8 JSON body followed by the 32 bytes of its HMAC-SHA256 under the
shared key (one frame rather than two: a libzmq send and receive less per message on each side).  The
body carries a message id unique to its sender (a random prefix and a counter) and an expiry; receivers
drop anything that is unauthenticated, expired, dated too far ahead, malformed (not one compact UTF-8
JSON document), or a message id they have already seen.  Each message holds a list of items so a
sender can batch many requests into one send.

The body of a ``sign`` message (every value in it built by us: strings, booleans, integers below 2**63)
is written and read with orjson, ~15 times faster to write and ~2 times to read than the stdlib codec.
Other kinds (``session``: a browser's login body and a Manager's answer ride in them) keep the stdlib
codec, which alone reads and writes every value a browser's JSON may hold as it is: orjson writes a
NaN as null, refuses an integer beyond 64 bits and reads one as a float.
"""

from __future__ import annotations

import hmac
import itertools
import json
import math
import os
import stat
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from contract.prepared_hmac import PreparedHmac

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 1 << 20
MAC_BYTES = 32  # an HMAC-SHA256, at the end of the frame
KEY_BYTES = 32
# Made once: json.dumps with any argument (separators) builds a new encoder for every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()
# Kinds whose items hold only values we build: sealed and opened with orjson (see the module's text).
ORJSON_KINDS = frozenset({"sign"})
_WHITESPACE = b" \t\r\n"  # JSON's; orjson skips it around the document, senders never write it there


class RejectedMessage(Exception):
    """A message that must be dropped; ``reason`` is a short label fit for a metric."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(slots=True)  # not frozen: that sets each field through object.__setattr__ (~1 us a message)
class Envelope:
    kind: str
    message_id: str
    expires_at: float
    items: list[dict[str, Any]]


def key_file_problem(mode: int, file_gid: int, own_gid: int) -> str | None:
    """Why a key file's permissions are too open, or None.

    Only the owner may read it; group read is tolerated when the group is the process's own primary
    group, because a Kubernetes secret volume with an fsGroup is always 0440 (the kubelet adds it).
    """
    bits = stat.S_IMODE(mode)
    if bits & stat.S_IRWXO:
        return f"must not be accessible to others (mode {oct(bits)})"
    if bits & (stat.S_IWGRP | stat.S_IXGRP) or (bits & stat.S_IRGRP and file_gid != own_gid):
        return f"must not be readable by a group other than the process's own (mode {oct(bits)})"
    return None


class MessageSealer:
    """Signs outgoing messages."""

    def __init__(self, key: bytes, ttl: float):
        self._mac = PreparedHmac(key)
        self._ttl = ttl
        # Message ids need only be unique (the MAC covers them; receivers drop a repeat): a random
        # prefix per sealer and a counter, rather than a random draw (a system call) per message.
        self._id_prefix = os.urandom(8).hex()
        self._serials = itertools.count()

    def seal(self, kind: str, items: list[dict[str, Any]]) -> list[bytes]:
        body = _encode(
            kind,
            {
                "v": PROTOCOL_VERSION,
                "kind": kind,
                "id": f"{self._id_prefix}{next(self._serials):x}",
                # Whole milliseconds, cut down rather than round()ed (~0.6 us less; at most 1 ms earlier).
                "exp": int((time.time() + self._ttl) * 1000) / 1000,
                "items": items,
            },
        )
        return [body + self._mac.digest(body)]


def _encode(kind: str, doc: dict[str, Any]) -> bytes:
    if kind in ORJSON_KINDS:
        try:
            return orjson.dumps(doc)
        except TypeError:  # (orjson.JSONEncodeError) an integer beyond 64 bits, a lone surrogate: a bug, not a crash
            pass
    return _ENCODER.encode(doc).encode()


class ReplayGuard:
    """Remembers message ids until they expire; a second sighting is a replay.

    Expired ids are forgotten in one sweep once the oldest has been expired for ``SWEEP_SLACK``
    seconds, not at every message: at a steady rate the oldest id expires between any two messages,
    so a sweep per message (its call, iterator and bookkeeping: ~0.3 µs of a 1 µs ``admit``) found one
    id each time.  An id kept a little past its expiry changes no answer: an expired message is
    refused before its id is looked at.  A full guard sweeps before it refuses.
    """

    SWEEP_SLACK = 1.0

    def __init__(self, capacity: int = 1_000_000):
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._capacity = capacity
        self._sweep_after = math.inf  # the oldest id's expiry plus the slack: nothing to forget until then

    def __len__(self) -> int:
        return len(self._seen)

    def admit(self, message_id: str, expires_at: float, now: float) -> bool:
        if now > self._sweep_after:
            self._forget_expired(now)
        seen = self._seen
        if message_id in seen:
            return False
        if len(seen) >= self._capacity:
            self._forget_expired(now)
            if len(seen) >= self._capacity:
                return False  # fail closed under a flood rather than forget live ids
        if not seen:
            self._sweep_after = expires_at + self.SWEEP_SLACK
        seen[message_id] = expires_at
        return True

    def _forget_expired(self, now: float) -> None:
        # Insertion order is close to expiry order (one TTL per sender), so stop at the first live id.
        seen = self._seen
        while seen:
            oldest_id = next(iter(seen))
            expires_at = seen[oldest_id]
            if expires_at >= now:
                self._sweep_after = expires_at + self.SWEEP_SLACK
                return
            del seen[oldest_id]
        self._sweep_after = math.inf


class MessageOpener:
    """Checks and decodes incoming messages."""

    def __init__(self, key: bytes, max_age: float, replay_guard: ReplayGuard | None = None):
        self._mac = PreparedHmac(key)
        self._max_age = max_age
        self._replays = replay_guard or ReplayGuard()

    def open(self, frames: list[bytes]) -> Envelope:
        if len(frames) != 1:
            raise RejectedMessage("frame_count")
        frame = frames[0]
        if len(frame) > MAX_FRAME_BYTES:
            raise RejectedMessage("too_large")
        if len(frame) < MAC_BYTES:  # not even a MAC: as when its frame was missing
            raise RejectedMessage("frame_count")
        body = frame[:-MAC_BYTES]
        if not hmac.compare_digest(self._mac.digest(body), frame[-MAC_BYTES:]):
            raise RejectedMessage("bad_mac")
        envelope = _decode(body)
        now = time.time()
        if envelope.expires_at < now:
            raise RejectedMessage("expired")
        if envelope.expires_at > now + self._max_age + 1.0:
            raise RejectedMessage("future")
        if not self._replays.admit(envelope.message_id, envelope.expires_at, now):
            raise RejectedMessage("replay")
        return envelope


def _decode(body: bytes) -> Envelope:
    # One function with the body's parse: a call less per message, on both ends of the hop.  ``type(x)
    # is`` rather than isinstance: a decoded JSON value is of exactly one of JSON's types.
    if not body or body[0] in _WHITESPACE or body[-1] in _WHITESPACE:
        raise RejectedMessage("not_json")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:  # or one orjson refuses but the stdlib reads (NaN, a lone surrogate)
        doc = _parse_exactly(body)
    else:
        if type(doc) is dict and not (type(kind := doc.get("kind")) is str and kind in ORJSON_KINDS):
            doc = _parse_exactly(body)  # read again: orjson reads an integer beyond 64 bits as a float
    if type(doc) is not dict or doc.get("v") != PROTOCOL_VERSION:
        raise RejectedMessage("version")
    kind, message_id, expires_at, items = doc.get("kind"), doc.get("id"), doc.get("exp"), doc.get("items")
    if type(kind) is not str or type(message_id) is not str or not 8 <= len(message_id) <= 64:
        raise RejectedMessage("schema")
    if type(items) is not list:
        raise RejectedMessage("schema")
    for item in items:  # (a loop: all() over a generator costs ~0.5 us more)
        if type(item) is not dict:
            raise RejectedMessage("schema")
    if type(expires_at) is float:
        expiry = expires_at
    elif type(expires_at) is int:
        try:
            expiry = float(expires_at)
        except OverflowError:  # an integer beyond any float
            raise RejectedMessage("schema") from None
    else:  # (a boolean too)
        raise RejectedMessage("schema")
    if not math.isfinite(expiry):  # a NaN would never expire: no comparison with it is true
        raise RejectedMessage("schema")
    return Envelope(kind, message_id, expiry, items)


def _parse_exactly(body: bytes) -> Any:
    # Decoded as UTF-8 and parsed without json.loads' encoding detection and whitespace skipping:
    # senders write compact UTF-8 JSON, so anything else is not ours.
    try:
        text = body.decode()
        doc, end = _DECODER.raw_decode(text)
    except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError); nesting deeper than the stack
        raise RejectedMessage("not_json") from None
    if end != len(text):
        raise RejectedMessage("not_json")
    return doc
