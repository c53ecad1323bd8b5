"""What a signer serves: its group's deployments, checked before it reports Up (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from contract.etcd_layout import AgentState
from contract.webapi import (
    MANAGER_DEPLOYMENT,
    Deployment,
    GroupsSnapshot,
    SigningMode,
    deployment_faults,
)


@dataclass(frozen=True)
class SyncOutcome:
    """The state to report after applying a snapshot, and the upstream hosts we may sign for."""

    state: str
    fault: str | None
    hosts: frozenset[str]
    generation: int
    signature: tuple  # what was applied; a change means a new distribution


def deployments_for(snapshot: GroupsSnapshot, group: str, manager: Deployment) -> list[Deployment]:
    """The group's deployments, with the Manager's built from the configuration unless etcd redefines it."""
    mine = snapshot.deployments_of(group)
    if MANAGER_DEPLOYMENT not in snapshot.deployments and manager.group == group:
        mine.append(manager)
    return sorted(mine, key=lambda d: d.name)


def plan_sync(snapshot: GroupsSnapshot, group: str, manager: Deployment) -> SyncOutcome:
    generation = snapshot.generations.get(group, 0)
    if snapshot.group(group) is None:
        return SyncOutcome(AgentState.STARTING, f"Web API Group {group!r} is not defined", frozenset(), generation, ())
    deployments = deployments_for(snapshot, group, manager)
    faults = [f"{d.name}: {fault}" for d in deployments for fault in deployment_faults(d)]
    hosts = frozenset(
        urlsplit(url).netloc
        for d in deployments
        if d.signing != SigningMode.NONE and not deployment_faults(d)
        for url in d.upstreams
    )
    applied = tuple((d.name, d.revision, d.upstreams, d.signing.value) for d in deployments) + (generation,)
    if faults:
        return SyncOutcome(AgentState.OUT_OF_SERVICE, "; ".join(faults), hosts, generation, applied)
    return SyncOutcome(AgentState.UP, None, hosts, generation, applied)
