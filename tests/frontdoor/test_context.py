"""The Web API Groups caller of a session: the same caller whether made or remembered, the endpoint
admins of the moment applied at once, and the memory of callers bounded."""

from __future__ import annotations

import time

from contract.redis_layout import SessionRecord
from contract.webapi import Caller
from frontdoor import context
from frontdoor.context import caller_of

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
