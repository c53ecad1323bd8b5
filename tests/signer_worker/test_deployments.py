"""What a signer reports after applying its group's deployments, and what it then agrees to sign."""

import pytest

from contract.deployment_rules import manager_deployment
from contract.etcd_layout import AgentState
from contract.requests import SigningRequest
from contract.webapi import Deployment, GroupDefinition, GroupsSnapshot
from signer_worker.deployments import plan_sync, signing_refusal

MANAGER = manager_deployment(["http://127.0.0.1:8091"], "DEFAULT")


def echo(upstream: str, revision: int = 1, group: str = "G", signing: str = "identity") -> Deployment:
    return Deployment.from_dict(
        {
            "name": "echo",
            "group": group,
            "route_prefix": "/webapi/echo",
            "upstreams": [upstream],
            "revision": revision,
            "signing": signing,
        }
    )


def test_undefined_group_is_a_misconfiguration():
    outcome = plan_sync(GroupsSnapshot(), "NEW_GROUP", MANAGER)
    assert outcome.state == AgentState.STARTING and "not defined" in outcome.fault


def test_default_group_serves_the_manager_from_the_configuration():
    outcome = plan_sync(GroupsSnapshot(), "DEFAULT", MANAGER)
    assert (outcome.state, outcome.plan.manager_hosts, outcome.serving) == (
        AgentState.UP,
        frozenset({"127.0.0.1:8091"}),
        ("manager",),
    )


def test_a_faulty_deployment_keeps_the_agent_out_of_service_until_fixed():
    snapshot = GroupsSnapshot(groups={"G": GroupDefinition("G")}, deployments={"echo": echo("ftp://nowhere")})
    faulty = plan_sync(snapshot, "G", MANAGER)
    assert faulty.state == AgentState.OUT_OF_SERVICE and "echo" in faulty.fault
    snapshot.deployments["echo"] = echo("http://127.0.0.1:9000", revision=2)
    fixed = plan_sync(snapshot, "G", MANAGER)
    assert (fixed.state, fixed.plan.identity_hosts) == (AgentState.UP, {"echo": frozenset({"127.0.0.1:9000"})})
    assert fixed.signature != faulty.signature


@pytest.mark.parametrize(
    "broken", [echo("ftp://nowhere:99999", group="DEFAULT"), echo("http://h:1", group="DEFAULT", signing="hmac+jwt")]
)
def test_a_faulty_deployment_does_not_stop_the_manager_deployment(broken):
    """Out Of Service with the fault shown (seed 004), yet still signing for /func."""
    outcome = plan_sync(GroupsSnapshot(deployments={"echo": broken}), "DEFAULT", MANAGER)
    assert outcome.state == AgentState.OUT_OF_SERVICE and outcome.fault.startswith("echo: ")
    assert outcome.serving == ("manager",)
    assert outcome.plan.manager_hosts == frozenset({"127.0.0.1:8091"}) and outcome.plan.identity_hosts == {}


def test_identity_deployments_are_faulty_on_an_agent_without_the_key():
    snapshot = GroupsSnapshot(deployments={"echo": echo("http://h:1", group="DEFAULT")})
    outcome = plan_sync(snapshot, "DEFAULT", MANAGER, identity_ready=False)
    assert "identity signing key" in outcome.fault and outcome.serving == ("manager",)


def test_recreate_changes_what_counts_as_applied():
    snapshot = GroupsSnapshot(groups={"G": GroupDefinition("G")}, deployments={"echo": echo("http://h:1")})
    before = plan_sync(snapshot, "G", MANAGER)
    snapshot.generations["G"] = 3
    after = plan_sync(snapshot, "G", MANAGER)
    assert after.generation == 3 and after.signature != before.signature


def request(deployment: str, host: str) -> SigningRequest:
    return SigningRequest(1, "s" * 32, "GET", "/x", host, "application/json", "v8.20240315", deployment=deployment)


@pytest.mark.parametrize(
    "deployment, host, refusal",
    [
        ("manager", "127.0.0.1:8091", None),
        ("manager", "h:1", "host_not_allowed"),  # Manager credentials never for another upstream's host
        ("echo", "h:1", None),  # an identity assertion, audience echo
        ("echo", "127.0.0.1:8091", "host_not_allowed"),
        ("other", "h:1", "deployment_not_served"),
    ],
)
def test_what_an_agent_agrees_to_sign(deployment, host, refusal):
    snapshot = GroupsSnapshot(deployments={"echo": echo("http://h:1", group="DEFAULT")})
    plan = plan_sync(snapshot, "DEFAULT", MANAGER).plan
    assert signing_refusal(plan, request(deployment, host)) == refusal
