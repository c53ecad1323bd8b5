"""Changing Web API Groups: every action checks the caller's rights against the current snapshot,
then writes etcd with a transaction so two admins cannot overwrite each other unnoticed.

Shared by the front door's JSON API (callers are logged-in users) and the operators' CLI (callers
with etcd access, treated as platform admins).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from contract.config import Config
from contract.deployment_rules import deployment_faults, parse_deployment
from contract.etcd_layout import AgentState, section_key
from contract.webapi import (
    DEFAULT_GROUP,
    Action,
    Caller,
    Deployment,
    GroupDefinition,
    GroupsSnapshot,
    InvalidDefinition,
    allowed,
    may_define_deployment,
    may_define_groups,
    shutdown_refusal,
)

if TYPE_CHECKING:
    from service_runtime.etcd import EtcdClient


class Refused(Exception):
    """An action the caller may not take, or that makes no sense now; ``status`` is the HTTP status."""

    def __init__(self, status: int, title: str, detail: str):
        self.status = status
        self.title = title
        self.detail = detail
        super().__init__(detail)


def forbidden(detail: str) -> Refused:
    return Refused(403, "Forbidden", detail)


def not_found(detail: str) -> Refused:
    return Refused(404, "Not found", detail)


def conflict(detail: str) -> Refused:
    return Refused(409, "Conflict", detail)


class WebApiAdmin:
    def __init__(self, client: EtcdClient, config: Config):
        self._client = client
        self._config = config

    # --- groups ---------------------------------------------------------------------------

    async def create_group(self, caller: Caller, snapshot: GroupsSnapshot, doc: dict[str, Any]) -> GroupDefinition:
        if not may_define_groups(caller):
            raise forbidden("only platform admins and endpoint admins may add Web API Groups")
        group = GroupDefinition.from_dict({**doc, "created_by": caller.user_id, "created_at": time.time()})
        if snapshot.group(group.name) is not None:
            raise conflict(f"the Web API Group {group.name!r} exists already")
        await self._create(section_key(self._config, "groups", group.name), group.to_json(), group.name)
        return group

    async def update_group(
        self, caller: Caller, snapshot: GroupsSnapshot, name: str, doc: dict[str, Any]
    ) -> GroupDefinition:
        current = self._readable_group(caller, snapshot, name)
        if not allowed(caller, Action.UPDATE, current):
            raise forbidden(f"you may not update the Web API Group {name!r}")
        merged = {
            "grants": [g.to_dict() for g in current.grants],
            "description": current.description,
            **doc,
            "name": name,
            "created_by": current.created_by,
            "created_at": current.created_at,
        }
        group = GroupDefinition.from_dict(merged)
        if group.grants != current.grants and not may_define_groups(caller):
            # Update covers the description; changing grants would let a delegate grant itself more.
            raise forbidden("only platform admins and endpoint admins may change a group's grants")
        await self._client.put(section_key(self._config, "groups", name), group.to_json())
        return group

    async def delete_group(self, caller: Caller, snapshot: GroupsSnapshot, name: str) -> None:
        current = self._readable_group(caller, snapshot, name)
        if not allowed(caller, Action.DELETE, current):
            raise forbidden(f"you may not delete the Web API Group {name!r}")
        if name == DEFAULT_GROUP:
            raise conflict("the DEFAULT group cannot be deleted")
        if snapshot.deployments_of(name):
            raise conflict(f"the Web API Group {name!r} still serves deployments; delete them first")
        await self._client.delete(section_key(self._config, "groups", name))

    async def recreate(self, caller: Caller, snapshot: GroupsSnapshot, name: str) -> int:
        """Force every agent of the group to re-apply its deployments."""
        group = self._readable_group(caller, snapshot, name)
        if not allowed(caller, Action.RECREATE, group):
            raise forbidden(f"you may not recreate the deployments of {name!r}")
        key = section_key(self._config, "generations", name)
        while True:  # compare-and-swap on the counter
            found = await self._client.get(key)
            current = json.loads(found.value)["generation"] if found else 0
            value = json.dumps({"generation": current + 1, "by": caller.user_id, "at": time.time()}).encode()
            txn = self._client.transactions
            guard = txn.version(key) == 0 if found is None else txn.mod(key) == found.mod_revision
            succeeded, _ = await self._client.transaction(compare=[guard], success=[txn.put(key, value)], failure=[])
            if succeeded:
                return current + 1

    # --- deployments ----------------------------------------------------------------------

    async def create_deployment(
        self, caller: Caller, snapshot: GroupsSnapshot, group_name: str, doc: dict[str, Any]
    ) -> tuple[Deployment, list[str]]:
        group = self._readable_group(caller, snapshot, group_name)
        if not allowed(caller, Action.CREATE, group):
            raise forbidden(f"you may not create deployments in {group_name!r}")
        self._may_define(caller, doc.get("name"))
        deployment = parse_deployment({**doc, "group": group_name, "revision": 1, "updated_at": time.time()})
        if deployment.name in snapshot.deployments:
            raise conflict(f"the deployment {deployment.name!r} exists already")
        await self._create(
            section_key(self._config, "deployments", deployment.name), deployment.to_json(), deployment.name
        )
        return deployment, deployment_faults(deployment)

    async def update_deployment(
        self, caller: Caller, snapshot: GroupsSnapshot, name: str, doc: dict[str, Any]
    ) -> tuple[Deployment, list[str]]:
        current = self._readable_deployment(caller, snapshot, name)
        group = snapshot.group(current.group)
        if not allowed(caller, Action.UPDATE, group):
            raise forbidden(f"you may not update deployments of {current.group!r}")
        self._may_define(caller, name)
        base = json.loads(current.to_json())
        deployment = parse_deployment(
            {
                **base,
                **doc,
                "name": name,
                "group": current.group,
                "revision": current.revision + 1,
                "updated_at": time.time(),
            }
        )
        await self._client.put(section_key(self._config, "deployments", name), deployment.to_json())
        return deployment, deployment_faults(deployment)

    async def delete_deployment(self, caller: Caller, snapshot: GroupsSnapshot, name: str) -> None:
        current = self._readable_deployment(caller, snapshot, name)
        if not allowed(caller, Action.DELETE, snapshot.group(current.group)):
            raise forbidden(f"you may not delete deployments of {current.group!r}")
        self._may_define(caller, name)
        await self._client.delete(section_key(self._config, "deployments", name))

    # --- agents ---------------------------------------------------------------------------

    async def shutdown(self, caller: Caller, snapshot: GroupsSnapshot, agent_id: str) -> None:
        if not may_define_groups(caller):
            raise forbidden("only platform admins and endpoint admins may shut down a Web API Agent")
        record = snapshot.agents.get(agent_id)
        if record is None:
            raise not_found(f"no live Web API Agent {agent_id!r}")
        view = snapshot.agent_view(record)
        reason = shutdown_refusal(view.state, snapshot.distribution_in_progress(record.group))
        if reason is not None:
            raise conflict(reason)
        command = {"command": "shutdown", "by": caller.user_id, "at": time.time()}
        await self._client.put(section_key(self._config, "commands", agent_id), json.dumps(command).encode())

    async def set_override(self, caller: Caller, snapshot: GroupsSnapshot, agent_id: str, state: str | None) -> None:
        """An admin's Out Of Service for an agent (kept apart from what the agent reports)."""
        if not may_define_groups(caller):
            raise forbidden("only platform admins and endpoint admins may take an agent out of service")
        if agent_id not in snapshot.agents and agent_id not in snapshot.lost:
            raise not_found(f"no Web API Agent {agent_id!r}")
        key = section_key(self._config, "overrides", agent_id)
        if state is None:
            await self._client.delete(key)
        elif state == AgentState.OUT_OF_SERVICE:
            await self._client.put(key, json.dumps({"state": state, "by": caller.user_id}).encode())
        else:
            raise InvalidDefinition([f"override must be {AgentState.OUT_OF_SERVICE} or null"])

    # --- helpers --------------------------------------------------------------------------

    def _readable_group(self, caller: Caller, snapshot: GroupsSnapshot, name: str) -> GroupDefinition:
        group = snapshot.group(name)
        if group is None or not allowed(caller, Action.READ, group):
            raise not_found(f"no Web API Group {name!r}")  # unreadable groups are not disclosed
        return group

    def _readable_deployment(self, caller: Caller, snapshot: GroupsSnapshot, name: str) -> Deployment:
        deployment = snapshot.deployments.get(name)
        if deployment is None:
            raise not_found(f"no deployment {name!r}")
        self._readable_group(caller, snapshot, deployment.group)
        return deployment

    @staticmethod
    def _may_define(caller: Caller, name: Any) -> None:
        if isinstance(name, str) and not may_define_deployment(caller, name):
            raise forbidden("only platform admins and endpoint admins may define the manager deployment (/func)")

    async def _create(self, key: bytes, value: bytes, name: str) -> None:
        txn = self._client.transactions
        succeeded, _ = await self._client.transaction(
            compare=[txn.version(key) == 0], success=[txn.put(key, value)], failure=[]
        )
        if not succeeded:
            raise conflict(f"{name!r} exists already")
