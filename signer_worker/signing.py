"""Backend.AI request signing, as plain functions (no I/O).

The Manager recomputes an HMAC over seven lines of request metadata with a key derived from the
user's secret key, the date and the host; the body is not covered (API >= v4.20181215), which is why
signing needs only metadata.  GraphQL calls also carry an HS256 JWT minted with the same secret.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime

import jwt

from contract.prepared_hmac import PreparedHmac
from contract.redis_layout import SecretRecord

EMPTY_BODY_DIGEST = hashlib.sha256(b"").hexdigest()
JWT_ROLES = frozenset({"admin", "user", "superadmin"})
MAX_HOSTS = 16  # derived keys a keypair keeps per date


def string_to_sign(method: str, target: str, date: str, host: str, content_type: str, api_version: str) -> str:
    # Seven lines: method, target, date, host, content type, API version and the empty body's digest
    # (one f-string: ~0.2 µs less than joining a tuple of them).
    return (
        f"{method.upper()}\n{target}\n{date}\nhost:{host}\ncontent-type:{content_type.lower()}\n"
        f"x-backendai-version:{api_version}\n{EMPTY_BODY_DIGEST}"
    )


def derive_signing_key(secret_key: str, date_tag: str, host: str) -> bytes:
    # hmac.digest is the one-shot C path: several times faster than hmac.new for short inputs.
    first = hmac.digest(secret_key.encode(), date_tag.encode("ascii"), "sha256")
    return hmac.digest(first, host.encode(), "sha256")


def signature(
    secret_key: str, method: str, target: str, date: str, host: str, content_type: str, api_version: str, date_tag: str
) -> str:
    key = derive_signing_key(secret_key, date_tag, host)
    message = string_to_sign(method, target, date, host, content_type, api_version)
    return hmac.digest(key, message.encode(), "sha256").hex()


def authorization_header(access_key: str, hex_signature: str) -> str:
    return f"BackendAI signMethod=HMAC-SHA256, credential={access_key}:{hex_signature}"


def signed_headers(
    access_key: str,
    secret_key: str,
    method: str,
    target: str,
    host: str,
    content_type: str,
    api_version: str,
    now: datetime | None = None,
) -> dict[str, str]:
    """``Date`` and ``Authorization`` for one request; the same date string is signed and sent."""
    return Keypair(access_key, secret_key).signed_headers(method, target, host, content_type, api_version, now)


class Keypair:
    """A session's keypair as a signer holds it, with the signing keys derived from its secret key.

    Two of a signature's three HMACs depend only on the secret key, the UTC date and the host: they
    are derived once per date and host and remembered here, keyed and ready for the third.  A new
    date derives anew; a new keypair (a session re-read after an invalidation) starts empty; and the
    derived keys leave memory with the keypair (the session ended, expired or was evicted).
    """

    __slots__ = ("access_key", "secret_key", "role", "expires_at", "user_id", "_date_tag", "_keyed")

    def __init__(
        self, access_key: str, secret_key: str, role: str = "user", expires_at: float = 0.0, user_id: str = ""
    ):
        self.access_key = access_key
        self.secret_key = secret_key
        self.role = role
        self.expires_at = expires_at
        self.user_id = user_id
        self._date_tag = ""
        self._keyed: dict[str, PreparedHmac] = {}  # host -> HMAC under the key derived for _date_tag

    @classmethod
    def of(cls, record: SecretRecord) -> Keypair:
        return cls(record.access_key, record.secret_key, record.role, record.expires_at, record.user_id)

    def keyed(self, date_tag: str, host: str) -> PreparedHmac:
        """An HMAC-SHA256 under the key derived for ``date_tag`` and ``host``."""
        if date_tag != self._date_tag:
            self._date_tag, self._keyed = date_tag, {}
        keyed = self._keyed.get(host)
        if keyed is None:
            if len(self._keyed) >= MAX_HOSTS:  # (hosts are the plan's few; a bound all the same)
                self._keyed.clear()
            keyed = self._keyed[host] = PreparedHmac(derive_signing_key(self.secret_key, date_tag, host))
        return keyed

    def signed_headers(
        self, method: str, target: str, host: str, content_type: str, api_version: str, now: datetime | None = None
    ) -> dict[str, str]:
        """``Date`` and ``Authorization`` for one request; the same date string is signed and sent."""
        if now is None:
            date = iso_utc(time.time_ns())
            date_tag = _UtcSecond.tag  # of the second just formatted
        else:
            date = now.astimezone(UTC).isoformat()
            date_tag = date[:10].replace("-", "")  # strftime("%Y%m%d") (isoformat pads the year to 4 digits)
        message = string_to_sign(method, target, date, host, content_type, api_version).encode()
        return {
            "Date": date,
            "Authorization": authorization_header(self.access_key, self.keyed(date_tag, host).hexdigest(message)),
        }


class _UtcSecond:
    """The ISO form of the current UTC second, made once per second (the date of every signature)."""

    first_micro = 1 << 80  # the second's first microsecond since the epoch (none yet: no moment falls in it)
    text = ""  # "YYYY-MM-DDTHH:MM:SS"
    tag = ""  # "YYYYMMDD", the signing key's date


def iso_utc(unix_ns: int) -> str:
    """``datetime.fromtimestamp(t, UTC).isoformat()`` of the microsecond ``unix_ns`` falls in (1.5 -> ~0.5 us).

    Within the second formatted last, one subtraction and a %-format (an f-string's ``:06d`` and a
    ``divmod`` cost ~0.3 us more, on every signature)."""
    micro = unix_ns // 1000 - _UtcSecond.first_micro
    if not 0 <= micro < 1_000_000:
        second = unix_ns // 1_000_000_000
        _UtcSecond.text = text = datetime.fromtimestamp(second, UTC).isoformat()[:19]
        _UtcSecond.tag = text[:10].replace("-", "")  # strftime("%Y%m%d") (isoformat pads the year to 4 digits)
        _UtcSecond.first_micro = second * 1_000_000
        micro = unix_ns // 1000 - _UtcSecond.first_micro
    if micro:
        return "%s.%06d+00:00" % (_UtcSecond.text, micro)  # noqa: UP031 (faster than the f-string here)
    return _UtcSecond.text + "+00:00"  # as isoformat: no fraction when it is zero


def graphql_token(access_key: str, secret_key: str, role: str, lifetime: int, now: float) -> str:
    """The X-BackendAI-Token JWT; the Manager accepts only admin, user or superadmin as role."""
    issued = int(now)
    claims = {
        "exp": issued + lifetime,
        "iat": issued,
        "access_key": access_key,
        "role": role if role in JWT_ROLES else "user",
    }
    return jwt.encode(claims, secret_key, algorithm="HS256")
