"""What a signer reports after applying its group's deployments."""

from contract.etcd_layout import AgentState
from contract.webapi import Deployment, GroupDefinition, GroupsSnapshot, manager_deployment
from signer_worker.deployments import plan_sync

MANAGER = manager_deployment(["http://127.0.0.1:8091"], "DEFAULT")


def echo(upstream: str, revision: int = 1) -> Deployment:
    return Deployment.from_dict({"name": "echo", "group": "G", "route_prefix": "/webapi/echo",
                                 "upstreams": [upstream], "revision": revision})


def test_undefined_group_is_a_misconfiguration():
    outcome = plan_sync(GroupsSnapshot(), "NEW_GROUP", MANAGER)
    assert outcome.state == AgentState.STARTING and "not defined" in outcome.fault


def test_default_group_serves_the_manager_from_the_configuration():
    outcome = plan_sync(GroupsSnapshot(), "DEFAULT", MANAGER)
    assert (outcome.state, outcome.hosts) == (AgentState.UP, frozenset({"127.0.0.1:8091"}))


def test_a_faulty_deployment_keeps_the_agent_out_of_service_until_fixed():
    snapshot = GroupsSnapshot(groups={"G": GroupDefinition("G")}, deployments={"echo": echo("ftp://nowhere")})
    faulty = plan_sync(snapshot, "G", MANAGER)
    assert faulty.state == AgentState.OUT_OF_SERVICE and "echo" in faulty.fault
    snapshot.deployments["echo"] = echo("http://127.0.0.1:9000", revision=2)
    fixed = plan_sync(snapshot, "G", MANAGER)
    assert (fixed.state, fixed.hosts) == (AgentState.UP, frozenset({"127.0.0.1:9000"}))
    assert fixed.signature != faulty.signature


def test_recreate_changes_what_counts_as_applied():
    snapshot = GroupsSnapshot(groups={"G": GroupDefinition("G")}, deployments={"echo": echo("http://h:1")})
    before = plan_sync(snapshot, "G", MANAGER)
    snapshot.generations["G"] = 3
    after = plan_sync(snapshot, "G", MANAGER)
    assert after.generation == 3 and after.signature != before.signature
