"""The REST calls the official Web UI makes right after login, answered for an empty one-node cluster.

Shapes follow the Manager's handlers (announcement, scaling groups, vfolder hosts and invitations,
resource presets, resource slots); the data comes from :mod:`devstack.cluster` so the
REST and GraphQL views of the cluster agree.  Nothing here changes state.
"""

from __future__ import annotations

from aiohttp import web

from devstack.auth import auth_required
from devstack.cluster import DEFAULT_SCALING_GROUP, RESOURCE_SLOTS, STORAGE_HOST
from devstack.params import json_object
from devstack.problems import INVALID_API_PARAMS, Problem

routes = web.RouteTableDef()


@routes.get("/manager/announcement")
@auth_required
async def announcement(request: web.Request) -> web.Response:
    return web.json_response({"enabled": False, "message": ""})


@routes.get("/scaling-groups")
@auth_required
async def scaling_groups(request: web.Request) -> web.Response:
    if not request.query.get("group"):
        raise Problem(INVALID_API_PARAMS, "group: is required")
    return web.json_response({"scaling_groups": [{"name": DEFAULT_SCALING_GROUP}]})


@routes.get("/folders/_/hosts")
@auth_required
async def vfolder_hosts(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "default": STORAGE_HOST,
            "allowed": [STORAGE_HOST],
            "volume_info": {
                STORAGE_HOST: {
                    "backend": "vfs",
                    "capabilities": ["vfolder"],
                    "usage": {"percentage": 0.0},
                    "sftp_scaling_groups": [],
                }
            },
        }
    )


@routes.get("/folders/invitations/list")
@auth_required
async def vfolder_invitations(request: web.Request) -> web.Response:
    return web.json_response({"invitations": []})


@routes.get("/config/resource-slots")
@auth_required
async def resource_slots(request: web.Request) -> web.Response:
    return web.json_response({name: "count" if name == "cpu" else "bytes" for name in RESOURCE_SLOTS})


@routes.get("/folders")
@auth_required
async def vfolders(request: web.Request) -> web.Response:
    return web.json_response([])  # nobody has a folder yet


def _slots(value: str) -> dict[str, str]:
    return {name: value for name in RESOURCE_SLOTS}


@routes.post("/resource/check-presets")
@auth_required
async def check_presets(request: web.Request) -> web.Response:
    await json_object(request)  # group / scaling_group narrow the answer; there is one of each
    unlimited, idle = _slots("Infinity"), _slots("0")
    return web.json_response(
        {
            "keypair_limits": unlimited,
            "keypair_using": idle,
            "keypair_remaining": unlimited,
            "group_limits": unlimited,
            "group_using": idle,
            "group_remaining": unlimited,
            "scaling_group_remaining": RESOURCE_SLOTS,
            "scaling_groups": {DEFAULT_SCALING_GROUP: {"using": idle, "remaining": RESOURCE_SLOTS}},
            "presets": [
                {
                    "name": "cpu1-mem2g",
                    "resource_slots": {"cpu": "1", "mem": str(2 * 1024**3)},
                    "shared_memory": None,
                    "allocatable": True,
                }
            ],
        }
    )
