"""Where session data lives in Redis, who may touch it, and the records themselves.

Keys are named after a SHA-256 of the cookie value, so a Redis dump holds no usable cookie.

- ``websession:<hash>``  public session record (JSON), read by the front door. TTL = idle timeout.
- ``websecret:<hash>``   the user's secret key, AES-GCM encrypted; read by signers only.
- ``webuser:<hash of user id>``  set of session hashes of one user, for "revoke all".
- ``login_history_<username>``  failed-login counter (Backend.AI's key and semantics).
- ``webstats:live_sessions``  sorted set of live session hashes scored by expiry (the active-sessions
  gauge; written by the session daemon).
- channel ``webui:events``  invalidations ("session <hash>") published by the session daemon.
- ``ratelimit:<kind>:<hash of subject>:<window>``  request counters of the front doors (the only
  keys they may write).

Only the session daemon writes sessions; each process logs in as its own ACL user (``ACL_RULES``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

SESSION_PREFIX = "websession:"
SECRET_PREFIX = "websecret:"
USER_INDEX_PREFIX = "webuser:"
LOGIN_HISTORY_PREFIX = "login_history_"
EVENTS_CHANNEL = "webui:events"
STATS_PREFIX = "webstats:"
LIVE_SESSIONS_KEY = STATS_PREFIX + "live_sessions"
RATE_LIMIT_PREFIX = "ratelimit:"  # request counters, written by the front doors
# Written by the front doors' readiness check: Redis is ready only if it takes writes (a demoted
# master, still answering PING, refuses them with READONLY).
READY_PROBE_KEY = RATE_LIMIT_PREFIX + "readyz"

_COMMON = "-@all +ping +select +hello +client|setname +client|setinfo"
# +client|setinfo is unknown before Redis 7.2, so it is added only where the server knows it.
ACL_RULES: dict[str, str] = {
    # Read-only on sessions; read-write on its own rate-limit counters only (the Lua script of the
    # login limit runs with the caller's ACL, so EVAL reaches nothing the user could not touch itself).
    "frontdoor": (
        f"resetkeys resetchannels %R~{SESSION_PREFIX}* ~{RATE_LIMIT_PREFIX}* &{EVENTS_CHANNEL} {_COMMON} +get "
        "+subscribe +unsubscribe +evalsha +eval +mget +incr +incrby +pexpire"
    ),
    "signer": f"resetkeys resetchannels %R~{SECRET_PREFIX}* &{EVENTS_CHANNEL} {_COMMON} +get +subscribe +unsubscribe",
    "sessiond": (
        f"resetkeys resetchannels ~{SESSION_PREFIX}* ~{SECRET_PREFIX}* ~{USER_INDEX_PREFIX}* ~{LOGIN_HISTORY_PREFIX}* "
        f"~{STATS_PREFIX}* &{EVENTS_CHANNEL} {_COMMON} +get +set +del +unlink +expire +ttl +exists +sadd +srem "
        "+smembers +zadd +zrem +zcard +zremrangebyscore +publish +multi +exec +watch +unwatch"
    ),
}
ROLES = tuple(ACL_RULES)


def acl_rules(role: str, *, server_knows_setinfo: bool) -> str:
    rules = ACL_RULES[role]
    return rules if server_knows_setinfo else rules.replace(" +client|setinfo", "")


def session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def session_key(digest: str) -> str:
    return SESSION_PREFIX + digest


def secret_key(digest: str) -> str:
    return SECRET_PREFIX + digest


def user_index_key(user_id: str) -> str:
    return USER_INDEX_PREFIX + hashlib.sha256(user_id.encode()).hexdigest()


def login_history_key(username: str) -> str:
    return LOGIN_HISTORY_PREFIX + username


def invalidation_message(digest: str) -> str:
    return f"session {digest}"


def new_session_id() -> str:
    """A fresh 128-bit cookie value."""
    return secrets.token_hex(16)


def _scalar_text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise TypeError("expected a string")
    return str(value)


def _finite(value: Any) -> float:
    number = float(value)  # OverflowError for an integer beyond any float
    if isinstance(value, bool) or not math.isfinite(number):
        raise ValueError("expected a finite number")
    return number


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected an object")
    return value


@dataclass(slots=True)
class SessionRecord:
    """What the front door may know about a session (the seed's fields, nothing secret)."""

    user_id: str
    access_key: str
    role: str
    status: str
    created_at: float
    last_accessed: float
    expires_at: float
    preferences: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> SessionRecord:
        """The record, or ValueError for anything else Redis may hand back (tampered, truncated, hostile)."""
        try:
            doc = json.loads(raw)
        except RecursionError:  # nesting deeper than the decoder's stack
            raise ValueError("malformed session record: nested too deeply") from None
        if not isinstance(doc, dict):
            raise ValueError("a session record must be a JSON object")
        try:
            record = cls(
                user_id=_scalar_text(doc["user_id"]),
                access_key=_scalar_text(doc["access_key"]),
                role=_scalar_text(doc["role"]),
                status=_scalar_text(doc["status"]),
                created_at=_finite(doc["created_at"]),
                last_accessed=_finite(doc["last_accessed"]),
                expires_at=_finite(doc["expires_at"]),
                preferences=_mapping(doc.get("preferences") or {}),
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise ValueError(f"malformed session record: {type(exc).__name__}") from None
        return record

    def is_live(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.expires_at


@dataclass(frozen=True, slots=True)
class SecretRecord:
    """The keypair a signer signs with; held in memory only by signers."""

    access_key: str
    secret_key: str
    role: str
    expires_at: float
    user_id: str = ""  # the subject of identity assertions; records sealed before it existed lack it


def _secret_aad(digest: str, access_key: str, user_id: str) -> bytes:
    # The user id is bound too, so a Redis writer cannot re-label a keypair as another user.
    return f"{digest}|{access_key}|{user_id}".encode() if user_id else f"{digest}|{access_key}".encode()


class SecretBox:
    """AES-256-GCM for secret keys at rest, bound to the session hash and access key."""

    def __init__(self, key: bytes):
        if len(key) != 32:
            raise ValueError("the at-rest key must be 32 bytes")
        # Here, not at the top: the front door imports this module for its key names and opens no secret.
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM(key)

    def seal(self, digest: str, record: SecretRecord) -> str:
        nonce = os.urandom(12)
        aad = _secret_aad(digest, record.access_key, record.user_id)
        ciphertext = self._aead.encrypt(nonce, record.secret_key.encode(), aad)
        return json.dumps(
            {
                "access_key": record.access_key,
                "user_id": record.user_id,
                "role": record.role,
                "expires_at": record.expires_at,
                "nonce": base64.b64encode(nonce).decode(),
                "ciphertext": base64.b64encode(ciphertext).decode(),
            },
            separators=(",", ":"),
        )

    def open(self, digest: str, raw: str | bytes) -> SecretRecord:
        """Decrypt a stored record; raises ValueError if it was tampered with or moved."""
        try:
            doc = json.loads(raw)
            user_id = str(doc.get("user_id", ""))
            aad = _secret_aad(digest, doc["access_key"], user_id)
            plaintext = self._aead.decrypt(base64.b64decode(doc["nonce"]), base64.b64decode(doc["ciphertext"]), aad)
            return SecretRecord(
                str(doc["access_key"]), plaintext.decode(), str(doc["role"]), float(doc["expires_at"]), user_id
            )
        except Exception as exc:  # InvalidTag, KeyError, binascii.Error, ...
            raise ValueError(f"unreadable secret record: {type(exc).__name__}") from None
