"""What a signer serves: its group's deployments, checked before it reports Up (no I/O here).

A deployment this agent cannot deploy makes it Out Of Service with the fault shown (seed 004), but
it keeps serving every deployment it did apply: one faulty deployment must not take the Manager
deployment (``/func``) down for everyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from contract.deployment_rules import deployment_faults
from contract.etcd_layout import AgentState
from contract.webapi import MANAGER_DEPLOYMENT, Deployment, GroupsSnapshot, SigningMode


@dataclass(frozen=True)
class SigningPlan:
    """What this agent may sign: Backend.AI credentials for the Manager's hosts only, identity
    assertions for the other deployments it serves (audience = deployment name)."""

    manager_hosts: frozenset[str] = frozenset()
    manager_jwt: bool = False
    identity_hosts: dict[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncOutcome:
    """The state to report after applying a snapshot, and what we may sign."""

    state: str
    fault: str | None
    plan: SigningPlan
    serving: tuple[str, ...]
    generation: int
    signature: tuple  # what was applied; a change means a new distribution


def deployments_for(snapshot: GroupsSnapshot, group: str, manager: Deployment) -> list[Deployment]:
    """The group's deployments, with the Manager's built from the configuration unless etcd redefines it."""
    mine = snapshot.deployments_of(group)
    if MANAGER_DEPLOYMENT not in snapshot.deployments and manager.group == group:
        mine.append(manager)
    return sorted(mine, key=lambda d: d.name)


def runtime_faults(deployment: Deployment, identity_ready: bool) -> list[str]:
    """Why this agent cannot deploy ``deployment``: stored invalid, or signing material it lacks."""
    faults = deployment_faults(deployment)
    if deployment.signing == SigningMode.IDENTITY and not identity_ready:
        faults.append("this agent has no identity signing key (run 'webui-host prepare')")
    return faults


def plan_sync(snapshot: GroupsSnapshot, group: str, manager: Deployment, identity_ready: bool = True) -> SyncOutcome:
    generation = snapshot.generations.get(group, 0)
    if snapshot.group(group) is None:
        return SyncOutcome(
            AgentState.STARTING, f"Web API Group {group!r} is not defined", SigningPlan(), (), generation, ()
        )
    deployments = deployments_for(snapshot, group, manager)
    faults = {d.name: runtime_faults(d, identity_ready) for d in deployments}
    applied = [d for d in deployments if not faults[d.name]]
    signature = tuple((d.name, d.revision, d.upstreams, d.signing.value) for d in deployments) + (generation,)
    serving = tuple(d.name for d in applied)
    plan = _signing_plan(applied)
    described = "; ".join(f"{name}: {fault}" for name, found in faults.items() for fault in found)
    if described:
        return SyncOutcome(AgentState.OUT_OF_SERVICE, described, plan, serving, generation, signature)
    return SyncOutcome(AgentState.UP, None, plan, serving, generation, signature)


def _signing_plan(applied: list[Deployment]) -> SigningPlan:
    manager_hosts: frozenset[str] = frozenset()
    manager_jwt = False
    identity_hosts = {}
    for deployment in applied:
        hosts = frozenset(urlsplit(url).netloc for url in deployment.upstreams)
        if deployment.carries_credentials:
            manager_hosts, manager_jwt = hosts, deployment.signing == SigningMode.HMAC_JWT
        elif deployment.signing == SigningMode.IDENTITY:
            identity_hosts[deployment.name] = hosts
    return SigningPlan(manager_hosts, manager_jwt, identity_hosts)


def signing_refusal(plan: SigningPlan, request) -> str | None:
    """Why this agent will not sign ``request`` (a ``SigningRequest``), or None when it will."""
    if request.deployment == MANAGER_DEPLOYMENT:
        return None if request.host in plan.manager_hosts else "host_not_allowed"
    hosts = plan.identity_hosts.get(request.deployment)
    if hosts is None:
        return "deployment_not_served"
    return None if request.host in hosts else "host_not_allowed"
