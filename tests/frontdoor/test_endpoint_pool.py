"""Choosing among a deployment's endpoints by health (no I/O)."""

from __future__ import annotations

import pytest

from frontdoor.endpoint_pool import LEAST_CONNECTIONS, ROUND_ROBIN, EndpointPool

A, B, C = "http://a:1", "http://b:1", "http://c:1"


def test_round_robin_over_healthy_endpoints():
    pool = EndpointPool([A, B, C], ROUND_ROBIN)
    assert sorted(pool.choose() for _ in range(6)) == [A, A, B, B, C, C]


@pytest.mark.parametrize(
    "failures, healthy",
    [(0, True), (1, True), (2, False), (5, False)],
)
def test_consecutive_failures_make_an_endpoint_unhealthy(failures, healthy):
    pool = EndpointPool([A, B], unhealthy_after=2)
    for _ in range(failures):
        pool.failed(A)
    assert pool.endpoints[A].healthy == healthy
    if not healthy:
        assert {pool.choose() for _ in range(10)} == {B}


def test_one_success_brings_an_endpoint_back():
    pool = EndpointPool([A, B], unhealthy_after=1)
    assert pool.failed(A) is True
    assert pool.succeeded(A) is True and pool.endpoints[A].healthy and pool.endpoints[A].failures == 0


def test_with_none_healthy_every_endpoint_is_still_tried():
    pool = EndpointPool([A, B], unhealthy_after=1)
    pool.failed(A), pool.failed(B)
    assert not pool.any_healthy()
    assert {pool.choose() for _ in range(4)} == {A, B}


def test_excluded_endpoints_are_skipped_and_none_is_left_at_the_end():
    pool = EndpointPool([A, B])
    assert pool.choose({A}) == B
    assert pool.choose({A, B}) is None


def test_least_connections_prefers_the_idlest():
    pool = EndpointPool([A, B, C], LEAST_CONNECTIONS)
    pool.started(A), pool.started(A), pool.started(B)
    assert pool.choose() == C
    pool.finished(A), pool.finished(A)
    assert pool.choose() in (A, C)


@pytest.mark.parametrize("policy", [ROUND_ROBIN, LEAST_CONNECTIONS])
def test_a_single_upstream_is_chosen_whatever_its_health_until_it_is_excluded(policy):
    pool = EndpointPool([A], policy, unhealthy_after=1)
    assert pool.choose() == A and pool.urls == (A,)
    pool.failed(A)
    assert pool.choose() == A and pool.choose({B}) == A  # tried anyway, as with several none healthy
    assert pool.choose({A}) is None  # the retry loop's end
    pool.finished(A)
    assert pool.endpoints[A].in_flight == 0  # never below zero
