"""The §4.4 failed-login rules, table-driven; no Redis, no clock."""

from __future__ import annotations

import json

import pytest

from session_daemon.login_throttle import (
    LoginHistory,
    LoginOutcome,
    ThrottlePolicy,
    begin_attempt,
    outcome_of_manager_status,
    throttle_key,
)

POLICY = ThrottlePolicy(block_time=1200, allowed_fail_count=10)
NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("history", "now", "fails", "blocked"),
    [
        pytest.param(LoginHistory(), NOW, 0, False, id="no-history"),
        pytest.param(LoginHistory(NOW - 10, 3), NOW, 3, False, id="inside-window-counts"),
        pytest.param(LoginHistory(NOW - 1200, 9), NOW, 9, False, id="exactly-window-still-counts"),
        pytest.param(LoginHistory(NOW - 1200.5, 9), NOW, 0, False, id="window-passed-resets"),
        pytest.param(LoginHistory(NOW - 1, 9), NOW, 9, False, id="ninth-failure-not-yet-blocked"),
        pytest.param(LoginHistory(NOW - 1, 10), NOW, 10, True, id="tenth-failure-blocks"),
        pytest.param(LoginHistory(NOW - 1, 57), NOW, 57, True, id="beyond-allowed-blocks"),
        pytest.param(LoginHistory(NOW - 5000, 57), NOW, 0, False, id="old-block-forgotten"),
        pytest.param(LoginHistory(NOW + 30, 10), NOW, 10, True, id="future-attempt-still-counts"),
    ],
)
def test_begin_attempt(history: LoginHistory, now: float, fails: int, blocked: bool) -> None:
    attempt = begin_attempt(history, now, POLICY)
    assert (attempt.fails, attempt.blocked) == (fails, blocked)
    assert attempt.retry_after == (POLICY.block_time if blocked else 0)


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        pytest.param(LoginOutcome.SUCCESS, LoginHistory(NOW, 0), id="success-resets"),
        pytest.param(LoginOutcome.AUTH_FAILURE, LoginHistory(NOW, 5), id="failure-adds-one"),
        pytest.param(LoginOutcome.INCONCLUSIVE, None, id="network-error-no-write"),
    ],
)
def test_record_after(outcome: LoginOutcome, expected: LoginHistory | None) -> None:
    attempt = begin_attempt(LoginHistory(NOW - 100, 4), NOW, POLICY)
    assert attempt.record_after(outcome) == expected


def test_failure_after_window_starts_from_one() -> None:
    attempt = begin_attempt(LoginHistory(NOW - 2000, 9), NOW, POLICY)
    assert attempt.record_after(LoginOutcome.AUTH_FAILURE) == LoginHistory(NOW, 1)


def test_blocked_attempt_refreshes_window_keeps_count() -> None:
    attempt = begin_attempt(LoginHistory(NOW - 1000, 10), NOW, POLICY)
    assert attempt.blocked_record() == LoginHistory(NOW, 10)
    # 1000 s later the block still holds, because the refused attempt moved the window.
    later = begin_attempt(attempt.blocked_record(), NOW + 1000, POLICY)
    assert later.blocked
    # A quiet full window later it is lifted.
    assert not begin_attempt(later.blocked_record(), NOW + 1000 + 1201, POLICY).blocked


def test_ten_failures_in_a_row_then_blocked() -> None:
    history, now = LoginHistory(), NOW
    for _ in range(10):
        attempt = begin_attempt(history, now, POLICY)
        assert not attempt.blocked
        history = attempt.record_after(LoginOutcome.AUTH_FAILURE)
        now += 1
    assert history.login_fail_count == 10
    assert begin_attempt(history, now, POLICY).blocked


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(None, LoginHistory(), id="absent"),
        pytest.param(b"not json", LoginHistory(), id="not-json"),
        pytest.param(b"\xff\xfe", LoginHistory(), id="not-utf8"),
        pytest.param("[1, 2]", LoginHistory(), id="not-an-object"),
        pytest.param('{"last_login_attempt": -5, "login_fail_count": -3}', LoginHistory(0.0, 0), id="negatives"),
        pytest.param('{"last_login_attempt": "x", "login_fail_count": null}', LoginHistory(), id="wrong-types"),
        pytest.param('{"last_login_attempt": true, "login_fail_count": true}', LoginHistory(), id="booleans"),
        pytest.param('{"last_login_attempt": NaN, "login_fail_count": Infinity}', LoginHistory(), id="non-finite"),
        pytest.param(
            '{"last_login_attempt": 1%s, "login_fail_count": 1%s}' % ("0" * 400, "0" * 400),
            LoginHistory(),
            id="beyond-float",
        ),
        pytest.param('{"last_login_attempt": 12.5, "login_fail_count": 3.9}', LoginHistory(12.5, 3), id="float-count"),
        pytest.param(json.dumps({"last_login_attempt": NOW, "login_fail_count": 4}), LoginHistory(NOW, 4), id="valid"),
    ],
)
def test_parse_clamps_garbage(raw: str | bytes | None, expected: LoginHistory) -> None:
    assert LoginHistory.parse(raw) == expected


def test_json_round_trip_uses_backendai_field_names() -> None:
    stored = LoginHistory(NOW, 7).to_json()
    assert json.loads(stored) == {"last_login_attempt": NOW, "login_fail_count": 7}
    assert LoginHistory.parse(stored) == LoginHistory(NOW, 7)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, LoginOutcome.SUCCESS),
        (201, LoginOutcome.SUCCESS),
        (401, LoginOutcome.AUTH_FAILURE),
        (400, LoginOutcome.INCONCLUSIVE),
        (403, LoginOutcome.INCONCLUSIVE),
        (429, LoginOutcome.INCONCLUSIVE),
        (500, LoginOutcome.INCONCLUSIVE),
    ],
)
def test_only_401_counts_as_failure(status: int, outcome: LoginOutcome) -> None:
    assert outcome_of_manager_status(status) is outcome


@pytest.mark.parametrize(
    "spelling",
    [
        pytest.param("monitor@lablup.com", id="as-stored"),
        pytest.param("Monitor@lablup.com", id="capital-first"),
        pytest.param("MONITOR@LABLUP.COM", id="all-capitals"),
        pytest.param("  monitor@lablup.com\t", id="surrounding-blanks"),
        pytest.param("\u3000monitor@lablup.com\u3000", id="ideographic-spaces"),
        pytest.param("\uff4d\uff4f\uff4e\uff49\uff54\uff4f\uff52@lablup.com", id="full-width-letters"),
        pytest.param(
            "\uff2d\uff2f\uff2e\uff29\uff34\uff2f\uff32\uff20\uff4c\uff41\uff42\uff4c\uff55\uff50.com",
            id="full-width-capitals-and-at",
        ),
        pytest.param("Monitor@Lablup.Com ", id="mixed-case-domain"),
    ],
)
def test_every_spelling_of_an_account_shares_one_counter(spelling: str) -> None:
    assert throttle_key(spelling) == "monitor@lablup.com"


@pytest.mark.parametrize(
    ("one", "other"),
    [("monitor@lablup.com", "monitor2@lablup.com"), ("user@lablup.com", "user@lablup.co"), ("a.b@x.io", "ab@x.io")],
)
def test_different_accounts_keep_different_counters(one: str, other: str) -> None:
    assert throttle_key(one) != throttle_key(other)
