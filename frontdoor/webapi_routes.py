"""``/api/webapi/*``: the Web API Groups JSON API (documented in docs/openapi/webapi-groups.yaml).

Every logged-in user may read the overview and sees only the groups they may Read; every change is
checked on the server against the caller's rights (service_runtime.webapi_admin), whatever the UI shows.
Changes must be sent as JSON, which a cross-site form cannot do without a CORS preflight.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web

from contract.deployment_rules import deployment_faults
from contract.webapi import Action, Caller, GroupsSnapshot, InvalidDefinition, allowed, may_define_groups
from frontdoor import problems
from frontdoor.context import FrontDoor, caller_of
from frontdoor.json_body import InvalidJsonBody, parse_object, read_body
from frontdoor.observability import USER_ID_KEY
from service_runtime.etcd import etcd_client
from service_runtime.webapi_admin import Refused, WebApiAdmin

log = logging.getLogger(__name__)
PREFIX = "/api/webapi"
MAX_BODY = 64 * 1024


class WebApiRoutes:
    def __init__(self, front: FrontDoor):
        self._front = front
        self._etcd = None

    def register(self, app: web.Application) -> None:
        router = app.router
        router.add_get(f"{PREFIX}/groups", self.overview)
        router.add_post(f"{PREFIX}/groups", self.create_group)
        router.add_patch(f"{PREFIX}/groups/{{name}}", self.update_group)
        router.add_delete(f"{PREFIX}/groups/{{name}}", self.delete_group)
        router.add_post(f"{PREFIX}/groups/{{name}}/recreate", self.recreate)
        router.add_post(f"{PREFIX}/groups/{{name}}/deployments", self.create_deployment)
        router.add_patch(f"{PREFIX}/deployments/{{name}}", self.update_deployment)
        router.add_delete(f"{PREFIX}/deployments/{{name}}", self.delete_deployment)
        router.add_get(f"{PREFIX}/agents/unknown", self.unknown_agents)
        router.add_post(f"{PREFIX}/agents/{{agent_id}}/shutdown", self.shutdown)
        router.add_put(f"{PREFIX}/agents/{{agent_id}}/override", self.set_override)
        app.on_cleanup.append(self._close)

    # --- reading ---------------------------------------------------------------------------

    async def overview(self, request: web.Request) -> web.Response:
        try:
            caller = await self._caller(request)
        except _NotLoggedIn:
            return problems.unauthorized()
        snapshot = self._front.groups
        groups = [
            _group_view(caller, snapshot, name, self._front.deployments_of(name), self._front)
            for name, group in sorted(snapshot.all_groups().items())
            if allowed(caller, Action.READ, group)
        ]
        body: dict[str, Any] = {
            "caller": {"user_id": caller.user_id, "role": caller.role, "can_define_groups": may_define_groups(caller)},
            "groups": groups,
        }
        if may_define_groups(caller):
            body["unknown"] = [view.to_dict() for view in snapshot.unknown_agents()]
        return web.json_response(body)

    async def unknown_agents(self, request: web.Request) -> web.Response:
        try:
            caller = await self._caller(request)
        except _NotLoggedIn:
            return problems.unauthorized()
        if not may_define_groups(caller):
            return problems.problem(
                403,
                "generic-forbidden",
                "Forbidden",
                detail="only platform admins and endpoint admins see the Unknown agents",
            )
        return web.json_response({"agents": [v.to_dict() for v in self._front.groups.unknown_agents()]})

    # --- changing --------------------------------------------------------------------------

    async def create_group(self, request: web.Request) -> web.Response:
        group = await self._act(request, lambda admin, caller, snap, body: admin.create_group(caller, snap, body))
        if isinstance(group, web.Response):
            return group
        reminder = (
            f"Start Web API Agents for this group with WEBAPI_GROUP_NAME={group.name} "
            "(signer_worker environment); they join it automatically."
        )
        return web.json_response({"group": json.loads(group.to_json()), "reminder": reminder}, status=201)

    async def update_group(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        group = await self._act(request, lambda admin, caller, snap, body: admin.update_group(caller, snap, name, body))
        return group if isinstance(group, web.Response) else web.json_response({"group": json.loads(group.to_json())})

    async def delete_group(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        done = await self._act(
            request, lambda admin, caller, snap, _: admin.delete_group(caller, snap, name), body=False
        )
        return done if isinstance(done, web.Response) else web.Response(status=204)

    async def recreate(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        generation = await self._act(
            request, lambda admin, caller, snap, _: admin.recreate(caller, snap, name), body=False
        )
        if isinstance(generation, web.Response):
            return generation
        return web.json_response({"group": name, "generation": generation}, status=202)

    async def create_deployment(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        result = await self._act(
            request, lambda admin, caller, snap, body: admin.create_deployment(caller, snap, name, body)
        )
        return result if isinstance(result, web.Response) else _deployment_reply(*result, status=201)

    async def update_deployment(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        result = await self._act(
            request, lambda admin, caller, snap, body: admin.update_deployment(caller, snap, name, body)
        )
        return result if isinstance(result, web.Response) else _deployment_reply(*result)

    async def delete_deployment(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        done = await self._act(
            request, lambda admin, caller, snap, _: admin.delete_deployment(caller, snap, name), body=False
        )
        return done if isinstance(done, web.Response) else web.Response(status=204)

    async def shutdown(self, request: web.Request) -> web.Response:
        agent_id = request.match_info["agent_id"]
        done = await self._act(
            request, lambda admin, caller, snap, _: admin.shutdown(caller, snap, agent_id), body=False
        )
        return (
            done
            if isinstance(done, web.Response)
            else web.json_response({"agent_id": agent_id, "shutdown": "requested"}, status=202)
        )

    async def set_override(self, request: web.Request) -> web.Response:
        agent_id = request.match_info["agent_id"]
        done = await self._act(
            request, lambda admin, caller, snap, body: admin.set_override(caller, snap, agent_id, body.get("state"))
        )
        return done if isinstance(done, web.Response) else web.Response(status=204)

    # --- plumbing --------------------------------------------------------------------------

    async def _act(self, request: web.Request, action, body: bool = True):
        """Authenticate, parse, run an admin action; map refusals to problem+json."""
        try:
            caller = await self._caller(request)
            document = await _json_body(request) if body else {}
            result = await action(self._admin(), caller, self._front.groups, document)
        except web.HTTPException:
            raise
        except _NotLoggedIn:
            return problems.unauthorized()
        except Refused as refusal:
            slug = {403: "generic-forbidden", 404: "generic-not-found", 409: "conflict"}.get(
                refusal.status, "generic-bad-request"
            )
            return problems.problem(refusal.status, slug, refusal.title, detail=refusal.detail)
        except InvalidDefinition as invalid:
            return problems.problem(
                400,
                "invalid-api-params",
                "Missing or invalid API parameters.",
                detail="; ".join(invalid.problems),
                problems=invalid.problems,
            )
        log.info(
            "web api groups changed",
            extra={"event": "webapi_change", "user_id": caller.user_id, "path": request.path, "method": request.method},
        )
        await self._read_own_write()
        return result

    async def _read_own_write(self) -> None:
        """Answer only once this worker's view includes the change, so the next call sees it."""
        watcher = self._front.groups_watcher
        if watcher is not None:
            current = (await self._etcd.get_prefix(b"\0revision-probe")).header.revision
            await watcher.caught_up(current)

    async def _caller(self, request: web.Request) -> Caller:
        record = await self._front.session(request)
        if record is None:
            raise _NotLoggedIn()
        request[USER_ID_KEY] = record.user_id
        return caller_of(record, self._front.config.webapi.endpoint_admins)

    def _admin(self) -> WebApiAdmin:
        if self._etcd is None:
            self._etcd = etcd_client(self._front.config)
        return WebApiAdmin(self._etcd, self._front.config)

    async def _close(self, _app: web.Application) -> None:
        if self._etcd is not None:
            await self._etcd.close()


class _NotLoggedIn(Exception):
    pass


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise InvalidDefinition(["send the request body as application/json"])
    try:
        return parse_object(await read_body(request, MAX_BODY))
    except web.HTTPRequestEntityTooLarge:
        raise InvalidDefinition([f"the body exceeds {MAX_BODY} bytes"]) from None
    except InvalidJsonBody as exc:
        raise InvalidDefinition([str(exc)]) from None


def _group_view(
    caller: Caller, snapshot: GroupsSnapshot, name: str, deployments: list, front: FrontDoor
) -> dict[str, Any]:
    group = snapshot.group(name)
    actions = [action.value for action in Action if allowed(caller, action, group)]
    view: dict[str, Any] = {
        "name": name,
        "description": group.description,
        "defined": name in snapshot.groups or name == "DEFAULT",
        "allowed_actions": actions,
        "generation": snapshot.generations.get(name, 0),
        "distribution_in_progress": snapshot.distribution_in_progress(name),
        "agents": [agent.to_dict() for agent in snapshot.agents_of(name)],
        "deployments": [
            {**json.loads(d.to_json()), "faults": deployment_faults(d), "endpoints": front.endpoint_pool(d).view()}
            for d in deployments
        ],
    }
    if Action.UPDATE.value in actions:
        view["grants"] = [grant.to_dict() for grant in group.grants]
    return view


def _deployment_reply(deployment, faults: list[str], status: int = 200) -> web.Response:
    return web.json_response({"deployment": json.loads(deployment.to_json()), "faults": faults}, status=status)
