"""Typed application state: per-request audit, counters and rate-limit book-keeping."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from aiohttp import web

from devstack.users import UserDirectory, UserRecord

RATE_LIMIT = 1000
RATE_LIMIT_WINDOW_SECONDS = 900


@dataclass
class RequestAudit:
    """Shared by a request and its method-override clone (state dicts are copied shallowly)."""

    auth_method: str | None = None  # "hmac" | "jwt" once authenticated
    user: UserRecord | None = None
    rate_limit_remaining: int | None = None
    prepared: bool = False  # headers already on the wire: no error body possible
    status: int | None = None  # status of the prepared response, for the access log


@dataclass
class AuthStats:
    authenticated_requests: int = 0
    by_method: dict[str, int] = field(default_factory=lambda: {"hmac": 0, "jwt": 0})

    def record(self, auth_method: str) -> None:
        self.authenticated_requests += 1
        self.by_method[auth_method] = self.by_method.get(auth_method, 0) + 1

    def as_json(self) -> dict[str, object]:
        return {"authenticated_requests": self.authenticated_requests, "by_method": dict(self.by_method)}


class RateLimitBook:
    """Fixed-window query counter per access key; informational only (never rejects)."""

    def __init__(self, limit: int = RATE_LIMIT, window_seconds: int = RATE_LIMIT_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._windows: dict[str, tuple[float, int]] = {}

    def count(self, access_key: str, now: float | None = None) -> int:
        """Count one query and return how many remain in the current window."""
        now = time.monotonic() if now is None else now
        started, used = self._windows.get(access_key, (now, 0))
        if now - started >= self.window_seconds:
            started, used = now, 0
        used += 1
        self._windows[access_key] = (started, used)
        return max(0, self.limit - used)


@dataclass(frozen=True)
class ServerSettings:
    max_password_age: timedelta | None = None  # None: update-password-no-auth is unsupported


USERS_KEY = web.AppKey("devstack_users", UserDirectory)
STATS_KEY = web.AppKey("devstack_stats", AuthStats)
RATE_LIMITS_KEY = web.AppKey("devstack_rate_limits", RateLimitBook)
SETTINGS_KEY = web.AppKey("devstack_settings", ServerSettings)
AUDIT_KEY = web.RequestKey("devstack_audit", RequestAudit)


def audit_of(request: web.BaseRequest) -> RequestAudit:
    audit = request.get(AUDIT_KEY)
    if audit is None:
        audit = RequestAudit()
        request[AUDIT_KEY] = audit
    return audit
