"""The Web API Groups caller of a session: the same caller whether made or remembered, the endpoint
admins of the moment applied at once, and the memory of callers bounded."""

from __future__ import annotations

import time

from contract.config import parse_config
from contract.redis_layout import SessionRecord
from contract.webapi import MANAGER_DEPLOYMENT, Caller
from frontdoor import context
from frontdoor.context import caller_of
from service_runtime.reload import apply_reload

NOW = time.time()


def record(user_id: str, role: str) -> SessionRecord:
    return SessionRecord(user_id, "AK" + user_id[:4], role, "active", NOW, NOW, NOW + 3600)


RECORDS = [record(u, r) for u in ("a@example.com", "b@example.com") for r in ("user", "admin", "superadmin")]


def made(rec: SessionRecord, endpoint_admins: list[str]) -> Caller:
    """The caller as ``caller_of`` was written before it remembered any."""
    caller = Caller(rec.user_id, rec.role)
    return Caller(rec.user_id, rec.role, endpoint_admin=any(caller.matches(s) for s in endpoint_admins))


def test_a_remembered_caller_is_the_caller_made_for_the_session() -> None:
    context._PLAIN_CALLERS.clear()
    for _round in range(2):
        for rec in RECORDS:
            assert caller_of(rec, []) == made(rec, [])
    assert caller_of(RECORDS[0], []) is caller_of(RECORDS[0], [])  # made once, not per request


def test_endpoint_admins_of_the_moment_apply_at_once() -> None:
    context._PLAIN_CALLERS.clear()
    rec = record("a@example.com", "user")
    assert caller_of(rec, []).endpoint_admin is False
    for admins, expected in ((["user:a@example.com"], True), (["role:user"], True), (["role:admin"], False)):
        assert caller_of(rec, admins) == made(rec, admins)
        assert caller_of(rec, admins).endpoint_admin is expected
    assert caller_of(rec, []).endpoint_admin is False


def test_the_memory_of_callers_is_bounded() -> None:
    context._PLAIN_CALLERS.clear()
    for number in range(context.MAX_PLAIN_CALLERS + 10):
        rec = record(f"u{number}@example.com", "user")
        assert caller_of(rec, []) == made(rec, [])
        assert len(context._PLAIN_CALLERS) <= context.MAX_PLAIN_CALLERS


def front_door(config, endpoints: list[str]) -> context.FrontDoor:
    """A front door with only what ``deployment`` reads (the configuration and the Manager's endpoints)."""
    return context.FrontDoor(config, endpoints, None, None, None, None, None, None)


def test_the_managers_deployment_follows_every_reload_of_what_it_is_built_from() -> None:
    config = parse_config({"api": {"connect_timeout": 5, "response_timeout": 300}})
    endpoints = ["http://127.0.0.1:8081"]
    front = front_door(config, endpoints)
    first = front.deployment(MANAGER_DEPLOYMENT)
    assert (first.upstreams, first.group, first.connect_timeout, first.response_timeout) == (
        ("http://127.0.0.1:8081",),
        config.signers.group,
        5,
        300,
    )
    assert front.deployment(MANAGER_DEPLOYMENT) is first  # built once while nothing changes
    for changes in (
        {"api": {"connect_timeout": 2, "response_timeout": 300}},
        {"api": {"connect_timeout": 2, "response_timeout": 60}},
    ):
        apply_reload(config, parse_config(changes))  # in place, as a reload applies it
        built = front.deployment(MANAGER_DEPLOYMENT)
        assert (built.connect_timeout, built.response_timeout, built.group) == (
            changes["api"]["connect_timeout"],
            changes["api"]["response_timeout"],
            first.group,
        )
    config.signers.group = "gpu"  # (a restart's setting: whatever the configuration holds is used)
    assert front.deployment(MANAGER_DEPLOYMENT).group == "gpu"
    endpoints.append("http://127.0.0.1:8082")  # the list changed in place
    assert front.deployment(MANAGER_DEPLOYMENT).upstreams == ("http://127.0.0.1:8081", "http://127.0.0.1:8082")
    endpoints[0] = "http://127.0.0.1:8083"
    assert front.deployment(MANAGER_DEPLOYMENT).upstreams == ("http://127.0.0.1:8083", "http://127.0.0.1:8082")
