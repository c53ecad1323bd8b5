"""Authenticated ZeroMQ messages between the front door, the signers and the session daemon.

A message is two frames: a compact UTF-8 JSON body and an HMAC-SHA256 of it under the shared key.  The
body carries a message id unique to its sender (a random prefix and a counter) and an expiry; receivers
drop anything that is unauthenticated, expired, dated too far ahead, malformed (not one compact UTF-8
JSON document), or a message id they have already seen.  Each message holds a list of items so a
sender can batch many requests into one send.
"""

from __future__ import annotations

import hmac
import itertools
import json
import os
import stat
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 1 << 20
KEY_BYTES = 32
# Made once: json.dumps with any argument (separators) builds a new encoder for every call.
_ENCODER = json.JSONEncoder(separators=(",", ":"))
_DECODER = json.JSONDecoder()


class RejectedMessage(Exception):
    """A message that must be dropped; ``reason`` is a short label fit for a metric."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
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


def _keyed_mac(key: bytes) -> hmac.HMAC:
    """An HMAC-SHA256 keyed once; ``_mac`` copies it per message instead of keying anew (~1 us less)."""
    return hmac.new(key, digestmod="sha256")


def _mac(keyed: hmac.HMAC, body: bytes) -> bytes:
    mac = keyed.copy()
    mac.update(body)
    return mac.digest()


class MessageSealer:
    """Signs outgoing messages."""

    def __init__(self, key: bytes, ttl: float):
        self._keyed = _keyed_mac(key)
        self._ttl = ttl
        # Message ids need only be unique (the MAC covers them; receivers drop a repeat): a random
        # prefix per sealer and a counter, rather than a random draw (a system call) per message.
        self._id_prefix = os.urandom(8).hex()
        self._serials = itertools.count()

    def seal(self, kind: str, items: list[dict[str, Any]]) -> list[bytes]:
        body = _ENCODER.encode(
            {
                "v": PROTOCOL_VERSION,
                "kind": kind,
                "id": f"{self._id_prefix}{next(self._serials):x}",
                "exp": round(time.time() + self._ttl, 3),
                "items": items,
            }
        ).encode()
        return [body, _mac(self._keyed, body)]


class ReplayGuard:
    """Remembers message ids until they expire; a second sighting is a replay."""

    def __init__(self, capacity: int = 1_000_000):
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._capacity = capacity

    def admit(self, message_id: str, expires_at: float, now: float) -> bool:
        self._forget_expired(now)
        if message_id in self._seen:
            return False
        if len(self._seen) >= self._capacity:
            return False  # fail closed under a flood rather than forget live ids
        self._seen[message_id] = expires_at
        return True

    def _forget_expired(self, now: float) -> None:
        # Insertion order is close to expiry order (one TTL per sender), so stop at the first live id.
        while self._seen:
            oldest_id, expires_at = next(iter(self._seen.items()))
            if expires_at >= now:
                break
            del self._seen[oldest_id]


class MessageOpener:
    """Checks and decodes incoming messages."""

    def __init__(self, key: bytes, max_age: float, replay_guard: ReplayGuard | None = None):
        self._keyed = _keyed_mac(key)
        self._max_age = max_age
        self._replays = replay_guard or ReplayGuard()

    def open(self, frames: list[bytes]) -> Envelope:
        if len(frames) != 2:
            raise RejectedMessage("frame_count")
        body, mac = frames
        if len(body) > MAX_FRAME_BYTES:
            raise RejectedMessage("too_large")
        expected = _mac(self._keyed, body)
        if not hmac.compare_digest(expected, mac):
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
    # Decoded as UTF-8 and parsed without json.loads' encoding detection and whitespace skipping
    # (~2-3 us of an 8 us decode): senders write compact UTF-8 JSON, so anything else is not ours.
    try:
        text = body.decode()
        doc, end = _DECODER.raw_decode(text)
    except (ValueError, RecursionError):  # (UnicodeDecodeError is a ValueError); nesting deeper than the stack
        raise RejectedMessage("not_json") from None
    if end != len(text):
        raise RejectedMessage("not_json")
    if not isinstance(doc, dict) or doc.get("v") != PROTOCOL_VERSION:
        raise RejectedMessage("version")
    kind, message_id, expires_at, items = doc.get("kind"), doc.get("id"), doc.get("exp"), doc.get("items")
    if not isinstance(kind, str) or not isinstance(message_id, str) or not 8 <= len(message_id) <= 64:
        raise RejectedMessage("schema")
    if not isinstance(expires_at, (int, float)) or isinstance(expires_at, bool):
        raise RejectedMessage("schema")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise RejectedMessage("schema")
    return Envelope(kind, message_id, float(expires_at), items)
