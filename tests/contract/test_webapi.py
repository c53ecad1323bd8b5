"""Web API Groups rules without I/O: grants, the permission matrix, states, Shutdown, deployment faults."""

from __future__ import annotations

import time

import pytest

from contract.deployment_rules import deployment_faults, parse_deployment
from contract.etcd_layout import AgentRecord, AgentState
from contract.webapi import (
    Action,
    Caller,
    Deployment,
    GroupDefinition,
    GroupsSnapshot,
    InvalidDefinition,
    SigningMode,
    allowed,
    default_group,
    effective_state,
    may_call,
    may_define_deployment,
    may_define_groups,
    shutdown_refusal,
)

ADMIN = Caller("admin@lablup.com", "superadmin")
ENDPOINT_ADMIN = Caller("ops@lablup.com", "user", endpoint_admin=True)
ALICE = Caller("alice@lablup.com", "user")
BOB = Caller("bob@lablup.com", "user")
MONITOR = Caller("mon@lablup.com", "monitor")

GROUP = GroupDefinition.from_dict(
    {
        "name": "NEW_GROUP",
        "grants": [
            {"subject": "user:alice@lablup.com", "actions": ["read", "create", "update"]},
            {"subject": "role:monitor", "actions": ["read"]},
        ],
    }
)


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


VALID = {
    "name": "echo",
    "group": "G",
    "route_prefix": "/webapi/echo",
    "upstreams": ["http://127.0.0.1:8091"],
    "signing": "identity",
}


@pytest.mark.parametrize(
    "changes, fragment",
    [
        ({}, None),
        ({"upstreams": ["https://api.example.com"]}, None),
        ({"signing": "none"}, None),
        ({"upstreams": []}, "at least one upstream"),
        ({"upstreams": ["ftp://nowhere:99"]}, "not an http(s) URL"),
        ({"upstreams": ["http://"]}, "no host"),
        ({"upstreams": ["http://nowhere:99999"]}, "port outside"),
        ({"upstreams": ["http://nowhere:0"]}, "port outside"),
        ({"upstreams": ["https://api.example.com:443"]}, "default port"),
        ({"upstreams": ["http://user:pw@h:1"]}, "credentials"),
        ({"upstreams": ["http://h:1/?q=1"]}, "query"),
        ({"upstreams": ["http://h:1/ x"]}, "white space"),
        ({"upstreams": [f"http://h:{1000 + i}" for i in range(17)]}, "at most"),
        ({"route_prefix": "/func"}, "served at /webapi/echo"),
        ({"route_prefix": "/webapi/other"}, "served at /webapi/echo"),
        # Backend.AI credentials go to the Manager deployment only.
        ({"signing": "hmac"}, "reserved for the manager deployment"),
        ({"signing": "hmac+jwt"}, "reserved for the manager deployment"),
        ({"name": "manager", "route_prefix": "/webapi/manager", "signing": "hmac"}, "served at /func"),
        ({"name": "manager", "route_prefix": "/func", "signing": "identity"}, "manager deployment is signed"),
        ({"name": "manager", "route_prefix": "/func", "signing": "none"}, "manager deployment is signed"),
        ({"name": "manager", "route_prefix": "/func", "signing": "hmac+jwt"}, None),
    ],
)
def test_definitions_invalid_on_their_face_are_refused(changes, fragment):
    if fragment is None:
        parse_deployment({**VALID, **changes})
        return
    with pytest.raises(InvalidDefinition) as caught:
        parse_deployment({**VALID, **changes})
    assert any(fragment in problem for problem in caught.value.problems), caught.value.problems


def test_every_problem_of_a_definition_is_listed_at_once():
    with pytest.raises(InvalidDefinition) as caught:
        parse_deployment(
            {**VALID, "route_prefix": "/func", "signing": "hmac", "upstreams": ["ftp://x", "http://y:99999"]}
        )
    assert len(caught.value.problems) == 4, caught.value.problems


def test_new_deployments_default_to_identity_and_the_manager_to_hmac_jwt():
    assert parse_deployment({k: v for k, v in VALID.items() if k != "signing"}).signing == SigningMode.IDENTITY
    manager = parse_deployment({"name": "manager", "group": "G", "route_prefix": "/func", "upstreams": ["http://m:1"]})
    assert manager.signing == SigningMode.HMAC_JWT and manager.carries_credentials


def test_a_stored_definition_that_breaks_the_rules_is_a_fault():
    stored = deployment(upstreams=["ftp://nowhere:99999"], signing="hmac")
    assert len(deployment_faults(stored)) == 2


def test_deployment_shape_errors_are_all_reported():
    with pytest.raises(InvalidDefinition) as caught:
        Deployment.from_dict({"name": "", "group": "G", "route_prefix": "x", "signing": "rsa", "connect_timeout": -1})
    assert len(caught.value.problems) >= 4


@pytest.mark.parametrize(
    "caller, name, expected",
    [
        (ADMIN, "manager", True),
        (ENDPOINT_ADMIN, "manager", True),
        (ALICE, "manager", False),  # a delegated Create never reaches /func
        (ALICE, "scoring", True),
        (MONITOR, "manager", False),
    ],
)
def test_only_admins_define_the_manager_deployment(caller, name, expected):
    assert may_define_deployment(caller, name) == expected


@pytest.mark.parametrize(
    "caller, deployment_name, expected",
    [
        (BOB, "manager", True),  # the Manager authorises for itself
        (BOB, "scoring", False),  # no Read on NEW_GROUP
        (ALICE, "scoring", True),
        (MONITOR, "scoring", True),
        (ADMIN, "scoring", True),
    ],
)
def test_calling_a_deployment_needs_read_on_its_group(caller, deployment_name, expected):
    assert may_call(caller, deployment_name, GROUP) == expected


def record(agent_id="a1", group="G", state=AgentState.UP, fault=None, synced_generation=0, serving=()) -> AgentRecord:
    return AgentRecord(
        agent_id,
        group,
        f"ipc:///{agent_id}",
        "host",
        1,
        "0.1",
        state,
        time.time(),
        fault,
        synced_generation,
        tuple(serving),
    )


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
    assert [(v.agent_id, v.state) for v in snapshot.agents_of("G")] == [
        ("a1", AgentState.UP),
        ("a2", AgentState.UNKNOWN),
    ]
    assert [r.agent_id for r in snapshot.up_agents("G")] == ["a1"]
    assert snapshot.up_agents("NOPE") == []  # an undefined group's agents are never used
    assert not snapshot.distribution_in_progress("G")
    snapshot.generations["G"] = 1  # Recreate asked; a1 has not applied it yet
    assert snapshot.distribution_in_progress("G")
    snapshot.agents["a1"] = record("a1", "G", synced_generation=1)
    assert not snapshot.distribution_in_progress("G")
    snapshot.overrides["a1"] = AgentState.OUT_OF_SERVICE
    assert snapshot.up_agents("G") == []


@pytest.mark.parametrize(
    "state, fault, serving, override, serves_manager",
    [
        (AgentState.UP, None, ("manager",), None, True),
        # Out Of Service because another deployment is faulty: keeps serving what it applied.
        (AgentState.OUT_OF_SERVICE, "broken: bad", ("manager",), None, True),
        (AgentState.OUT_OF_SERVICE, "manager: bad", (), None, False),
        (AgentState.OUT_OF_SERVICE, None, ("manager",), None, False),  # applying a change
        (AgentState.UP, None, ("manager",), AgentState.OUT_OF_SERVICE, False),  # an admin's override
        (AgentState.OUT_OF_SERVICE, "broken: bad", ("manager",), AgentState.OUT_OF_SERVICE, False),
        (AgentState.DOWN, None, ("manager",), None, False),
        (AgentState.STARTING, "no group", (), None, False),
    ],
)
def test_which_agents_serve_a_deployment(state, fault, serving, override, serves_manager):
    snapshot = GroupsSnapshot(groups={"G": GroupDefinition("G")})
    snapshot.agents = {"a1": record("a1", "G", state, fault, serving=serving)}
    if override:
        snapshot.overrides["a1"] = override
    manager = Deployment("manager", "G", "/func", ("http://m:1",), SigningMode.HMAC_JWT)
    assert bool(snapshot.serving_agents(manager)) == serves_manager


def test_agent_records_round_trip_what_they_serve():
    original = record(serving=("manager", "scoring"))
    assert AgentRecord.from_json(original.to_json()) == original
