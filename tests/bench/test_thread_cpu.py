"""Per-thread CPU per request: the loop's thread apart from the others (pure part)."""

import pytest

from bench.thread_cpu import per_request


def test_the_loops_thread_is_the_one_whose_id_is_the_pid_and_kinds_are_summed():
    before = {
        ("frontdoor", 10, 10): (1.0, 0.5),
        ("frontdoor", 10, 11): (0.1, 0.1),
        ("frontdoor", 20, 20): (2.0, 1.0),
        ("signer", 30, 30): (0.0, 0.0),
    }
    after = {
        ("frontdoor", 10, 10): (1.5, 0.6),
        ("frontdoor", 10, 11): (0.2, 0.3),
        ("frontdoor", 20, 20): (2.5, 1.0),
        ("signer", 30, 30): (0.2, 0.0),
        ("signer", 30, 31): (9.0, 9.0),  # a thread born meanwhile: its whole life is not this run's
    }
    rows = per_request(before, after, requests=1000)
    assert rows[("frontdoor", "main")] == pytest.approx((1.0, 0.1))
    assert rows[("frontdoor", "other")] == pytest.approx((0.1, 0.2))
    assert rows[("signer", "main")] == pytest.approx((0.2, 0.0))
    assert ("signer", "other") not in rows


def test_no_request_divides_by_one():
    rows = per_request({("signer", 1, 1): (0.0, 0.0)}, {("signer", 1, 1): (0.002, 0.0)}, requests=0)
    assert rows[("signer", "main")] == pytest.approx((2.0, 0.0))
