"""Failed-login blocking, Backend.AI's rules (docs/protocol.md §4.4) as pure functions: no I/O, no clock.

The caller reads ``login_history_<username>``, asks :func:`begin_attempt` whether the attempt may
proceed, and after the Manager has answered stores whatever :meth:`LoginAttempt.record_after` returns.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from typing import Any

from contract.account_names import account_key as throttle_key  # noqa: F401  (the counter's key)
from contract.store_config import SessionConfig


class LoginOutcome(enum.Enum):
    SUCCESS = "success"  # the Manager accepted the credentials: the counter is reset
    AUTH_FAILURE = "auth_failure"  # the Manager said 401: one more failure
    INCONCLUSIVE = "inconclusive"  # unreachable, or an error that says nothing about the password


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    block_time: int  # seconds: failures older than this are forgotten; also the key's TTL
    allowed_fail_count: int  # failures in the window before attempts are refused

    @classmethod
    def from_config(cls, session_config: SessionConfig) -> ThrottlePolicy:
        return cls(session_config.login_block_time, session_config.login_allowed_fail_count)


@dataclass(frozen=True, slots=True)
class LoginHistory:
    """The stored JSON value, with Backend.AI's field names."""

    last_login_attempt: float = 0.0
    login_fail_count: int = 0

    def to_json(self) -> str:
        return json.dumps(
            {"last_login_attempt": self.last_login_attempt, "login_fail_count": self.login_fail_count},
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, raw: str | bytes | None) -> LoginHistory:
        """Whatever is stored becomes a valid history: garbage reads as none, negatives as zero."""
        if raw is None:
            return cls()
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return cls()
        if not isinstance(doc, dict):
            return cls()
        return cls(_non_negative(doc.get("last_login_attempt")), int(_non_negative(doc.get("login_fail_count"))))


def _non_negative(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    try:
        return max(float(value), 0.0) if math.isfinite(value) else 0.0
    except OverflowError:  # an integer beyond any float (a corrupt record): read as nothing
        return 0.0


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """One attempt's view of the counter; ``fails`` are the failures still inside the window."""

    now: float
    fails: int
    blocked: bool
    policy: ThrottlePolicy

    @property
    def retry_after(self) -> int:
        # Every attempt, even a refused one, restarts the window: the block lasts a full window from now.
        return self.policy.block_time if self.blocked else 0

    def blocked_record(self) -> LoginHistory:
        """What to store when the attempt is refused: the window moves, the count does not."""
        return LoginHistory(self.now, self.fails)

    def record_after(self, outcome: LoginOutcome) -> LoginHistory | None:
        """What to store once the Manager has answered; None means leave the key alone."""
        if outcome is LoginOutcome.SUCCESS:
            return LoginHistory(self.now, 0)
        if outcome is LoginOutcome.AUTH_FAILURE:
            return LoginHistory(self.now, self.fails + 1)
        return None


def begin_attempt(history: LoginHistory, now: float, policy: ThrottlePolicy) -> LoginAttempt:
    fails = history.login_fail_count
    if now - history.last_login_attempt > policy.block_time:
        fails = 0  # the last attempt is older than the window: start counting afresh
    return LoginAttempt(now=now, fails=fails, blocked=fails >= policy.allowed_fail_count, policy=policy)


def outcome_of_manager_status(status: int) -> LoginOutcome:
    """Backend.AI 26.4+: only a 401 from the Manager counts as a failed login."""
    if 200 <= status < 300:
        return LoginOutcome.SUCCESS
    if status == 401:
        return LoginOutcome.AUTH_FAILURE
    return LoginOutcome.INCONCLUSIVE
