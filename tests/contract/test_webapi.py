"""Web API Groups rules without I/O: grants, the permission matrix, states, Shutdown, deployment faults."""

from __future__ import annotations

import time

import pytest

from contract.etcd_layout import AgentRecord, AgentState
from contract.webapi import (
    Action,
    Caller,
    Deployment,
    GroupDefinition,
    GroupsSnapshot,
    InvalidDefinition,
    allowed,
    default_group,
    deployment_faults,
    effective_state,
    may_define_groups,
    shutdown_refusal,
)

ADMIN = Caller("admin@lablup.com", "superadmin")
ENDPOINT_ADMIN = Caller("ops@lablup.com", "user", endpoint_admin=True)
ALICE = Caller("alice@lablup.com", "user")
BOB = Caller("bob@lablup.com", "user")
MONITOR = Caller("mon@lablup.com", "monitor")

GROUP = GroupDefinition.from_dict({
    "name": "NEW_GROUP",
    "grants": [
        {"subject": "user:alice@lablup.com", "actions": ["read", "create", "update"]},
        {"subject": "role:monitor", "actions": ["read"]},
    ],
})


@pytest.mark.parametrize(
    "caller, expected",
    [
        (ADMIN, {"read", "create", "delete", "update", "recreate"}),
        (ENDPOINT_ADMIN, {"read", "create", "delete", "update", "recreate"}),
        (ALICE, {"read", "create", "update"}),
        (MONITOR, {"read"}),
        (BOB, set()),
    ],
)
def test_permission_matrix(caller, expected):
    assert {a.value for a in Action if allowed(caller, a, GROUP)} == expected


def test_only_admins_define_groups():
    assert [may_define_groups(c) for c in (ADMIN, ENDPOINT_ADMIN, ALICE, MONITOR)] == [True, True, False, False]


def test_default_group_is_readable_by_everyone_and_changeable_by_admins_only():
    group = default_group()
    assert allowed(BOB, Action.READ, group) and not allowed(BOB, Action.UPDATE, group)
    assert allowed(ENDPOINT_ADMIN, Action.DELETE, group)


@pytest.mark.parametrize(
    "doc, fragment",
    [
        ({"name": "bad name"}, "name"),
        ({"name": "G", "grants": [{"subject": "alice", "actions": ["read"]}]}, "subject"),
        ({"name": "G", "grants": [{"subject": "*", "actions": ["fly"]}]}, "actions"),
        ({"name": "G", "grants": [{"subject": "*", "actions": []}]}, "actions"),
        ({"name": "G", "grants": "everyone"}, "grants"),
        ({"name": "G", "description": "x" * 501}, "description"),
    ],
)
def test_invalid_group_definitions(doc, fragment):
    with pytest.raises(InvalidDefinition) as caught:
        GroupDefinition.from_dict(doc)
    assert fragment in str(caught.value)


def deployment(**changes) -> Deployment:
    doc = {"name": "echo", "group": "G", "route_prefix": "/webapi/echo", "upstreams": ["http://127.0.0.1:8091"]}
    return Deployment.from_dict({**doc, **changes})


@pytest.mark.parametrize(
    "upstreams, fault",
    [
        (["http://127.0.0.1:8091"], None),
        (["https://api.example.com"], None),
        ([], "no upstream"),
        (["ftp://x"], "not an http(s) URL"),
        (["http://"], "not an http(s) URL"),
        (["https://api.example.com:443"], "default port"),
        (["http://user:pw@h:1"], "credentials"),
        (["http://h:1/?q=1"], "query"),
    ],
)
def test_deployment_faults(upstreams, fault):
    faults = deployment_faults(deployment(upstreams=upstreams))
    assert (faults == []) if fault is None else any(fault in f for f in faults)


def test_deployment_shape_errors_are_all_reported():
    with pytest.raises(InvalidDefinition) as caught:
        Deployment.from_dict({"name": "", "group": "G", "route_prefix": "x", "signing": "rsa", "connect_timeout": -1})
    assert len(caught.value.problems) >= 4


def record(agent_id="a1", group="G", state=AgentState.UP, fault=None, synced_generation=0) -> AgentRecord:
    return AgentRecord(agent_id, group, f"ipc:///{agent_id}", "host", 1, "0.1", state, time.time(), fault,
                       synced_generation)


@pytest.mark.parametrize(
    "live, reported, override, expected",
    [
        (False, AgentState.UP, None, AgentState.UNKNOWN),
        (False, AgentState.UP, AgentState.OUT_OF_SERVICE, AgentState.UNKNOWN),
        (True, AgentState.UP, AgentState.OUT_OF_SERVICE, AgentState.OUT_OF_SERVICE),
        (True, AgentState.UP, None, AgentState.UP),
        (True, AgentState.DOWN, None, AgentState.DOWN),
        (True, AgentState.STARTING, None, AgentState.STARTING),
    ],
)
def test_effective_state_rules(live, reported, override, expected):
    assert effective_state(record(state=reported) if live else None, override) == expected


@pytest.mark.parametrize(
    "state, distributing, allowed_now",
    [
        (AgentState.OUT_OF_SERVICE, False, True),
        (AgentState.STARTING, False, True),
        (AgentState.UP, False, False),
        (AgentState.DOWN, False, False),
        (AgentState.UNKNOWN, False, False),
        (AgentState.OUT_OF_SERVICE, True, False),
    ],
)
def test_shutdown_rules(state, distributing, allowed_now):
    assert (shutdown_refusal(state, distributing) is None) == allowed_now


def test_snapshot_unknown_lost_and_distribution():
    snapshot = GroupsSnapshot(groups={"G": GROUP.__class__("G")})
    snapshot.agents = {"a1": record("a1", "G"), "x1": record("x1", "NOPE", AgentState.STARTING)}
    snapshot.lost = {"a2": (record("a2", "G"), time.time())}
    assert [v.agent_id for v in snapshot.unknown_agents()] == ["x1"]
    assert [(v.agent_id, v.state) for v in snapshot.agents_of("G")] == [("a1", AgentState.UP), ("a2", AgentState.UNKNOWN)]
    assert [r.agent_id for r in snapshot.up_agents("G")] == ["a1"]
    assert snapshot.up_agents("NOPE") == []  # an undefined group's agents are never used
    assert not snapshot.distribution_in_progress("G")
    snapshot.generations["G"] = 1  # Recreate asked; a1 has not applied it yet
    assert snapshot.distribution_in_progress("G")
    snapshot.agents["a1"] = record("a1", "G", synced_generation=1)
    assert not snapshot.distribution_in_progress("G")
    snapshot.overrides["a1"] = AgentState.OUT_OF_SERVICE
    assert snapshot.up_agents("G") == []
