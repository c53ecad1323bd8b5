"""In-memory user/keypair directory with the well-known halfstack users."""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROLES = frozenset({"superadmin", "admin", "user", "monitor"})
STATUSES = frozenset({"active", "inactive", "deleted", "before-verification"})
DEFAULT_DOMAIN = "default"
# Fixed namespace so a user's id is stable across restarts and machines.
_USER_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "devstack.webui-host")


def stable_user_id(email: str) -> str:
    return str(uuid.uuid5(_USER_ID_NAMESPACE, email.lower()))


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class UserRecord:
    """A user together with its (single) main keypair."""

    email: str
    password: str
    access_key: str
    secret_key: str
    role: str = "user"
    status: str = "active"
    user_id: str = ""
    domain: str = DEFAULT_DOMAIN
    password_changed_at: datetime = field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        if not self.user_id:
            self.user_id = stable_user_id(self.email)
        if self.role not in ROLES:
            raise ValueError(f"{self.email}: unknown role {self.role!r}")
        if self.status not in STATUSES:
            raise ValueError(f"{self.email}: unknown status {self.status!r}")

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def is_admin(self) -> bool:
        # The Manager's keypair.is_admin flag is set for domain admins and superadmins.
        return self.role in ("superadmin", "admin")

    def password_matches(self, candidate: str) -> bool:
        return hmac.compare_digest(self.password.encode(), candidate.encode())


def default_users() -> list[UserRecord]:
    return [
        UserRecord(
            "admin@lablup.com",
            "wJalrXUt",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            role="superadmin",
        ),
        UserRecord(
            "user@lablup.com",
            "C8qnIo29",
            "AKIANABBDUSEREXAMPLE",
            "C8qnIo29EZvXkPK1Kk9mMFbwDmBFFeNC8e6wkSXN",
            role="user",
        ),
        UserRecord(
            "monitor@lablup.com",
            "7tuEwF1J",
            "AKIANAMONITOREXAMPLE",
            "7tuEwF1JHzGXZwo7gtCh8RT2YTjtasz2qmZDxcAr",
            role="monitor",
        ),
        UserRecord(
            "inactive@lablup.com",
            "xPnTSNLh",
            "AKIANAINACTIVEEXAMPL",
            "xPnTSNLhQ2rJv6Wc8yK4mZ0bT1uGfE3dA5sH7jNo",
            role="user",
            status="inactive",
        ),
    ]


class UserDirectory:
    """Lookup by access key (signing) and by email (login); passwords are mutable."""

    def __init__(self, records: Iterable[UserRecord] = ()) -> None:
        self._by_email: dict[str, UserRecord] = {}
        for record in records:
            self.put(record)

    @classmethod
    def with_defaults(cls) -> UserDirectory:
        return cls(default_users())

    def put(self, record: UserRecord) -> None:
        """Add a user, replacing any user with the same email."""
        clash = self.by_access_key(record.access_key)
        if clash is not None and clash.email.lower() != record.email.lower():
            raise ValueError(f"access key {record.access_key} already belongs to {clash.email}")
        self._by_email[record.email.lower()] = record

    def by_email(self, email: str) -> UserRecord | None:
        return self._by_email.get(email.lower())

    def by_access_key(self, access_key: str) -> UserRecord | None:
        # Linear scan is fine for a handful of dev users and keeps one source of truth.
        for record in self._by_email.values():
            if hmac.compare_digest(record.access_key.encode(), access_key.encode()):
                return record
        return None

    def change_password(self, email: str, new_password: str, now: datetime | None = None) -> datetime:
        record = self.by_email(email)
        if record is None:
            raise KeyError(email)
        changed_at = now or _utcnow()
        self._by_email[email.lower()] = replace(record, password=new_password, password_changed_at=changed_at)
        return changed_at

    def __iter__(self) -> Iterator[UserRecord]:
        return iter(list(self._by_email.values()))

    def __len__(self) -> int:
        return len(self._by_email)


_REQUIRED_FIELDS = ("email", "password", "access_key", "secret_key")
_OPTIONAL_FIELDS = ("role", "status", "user_id", "domain")


def record_from_json(entry: Any) -> UserRecord:
    if not isinstance(entry, dict):
        raise ValueError(f"user entry must be an object, got {type(entry).__name__}")
    missing = [name for name in _REQUIRED_FIELDS if not isinstance(entry.get(name), str) or not entry[name]]
    if missing:
        raise ValueError(f"user entry {entry.get('email', '?')!r} lacks {', '.join(missing)}")
    unknown = set(entry) - set(_REQUIRED_FIELDS) - set(_OPTIONAL_FIELDS)
    if unknown:
        raise ValueError(f"user entry {entry['email']!r} has unknown fields {sorted(unknown)}")
    kwargs = {name: str(entry[name]) for name in _REQUIRED_FIELDS + _OPTIONAL_FIELDS if entry.get(name)}
    return UserRecord(**kwargs)


def load_users_file(path: str | Path, base: Iterable[UserRecord] | None = None) -> UserDirectory:
    """Defaults (or ``base``) overridden/extended by the JSON list in ``path``."""
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValueError("users file must hold a JSON list")
    directory = UserDirectory(default_users() if base is None else base)
    for entry in entries:
        directory.put(record_from_json(entry))
    return directory
