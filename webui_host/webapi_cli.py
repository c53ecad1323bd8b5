"""``webui-host groups|agents|deployments ...``: Web API Groups for operators.

Operators with access to etcd act as platform admins; every action goes through the same checks
and writes as the JSON API (service_runtime.webapi_admin).  Output is JSON, one document per command.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contract.config import ConfigError
from service_runtime.config_file import load_config

if TYPE_CHECKING:
    from service_runtime.webapi_admin import WebApiAdmin

# Loaded by these commands only (asyncio with ssl, the Web API models: ~0.1 s): ``webui-host run``
# imports this module for its argument parser, before it execs supervisord.
OPERATOR = ("operator@webui-host-cli", "superadmin")  # a contract.webapi.Caller


def register(commands: argparse._SubParsersAction) -> None:
    groups = commands.add_parser("groups", help="list, create, update, delete or recreate Web API Groups")
    groups_actions = groups.add_subparsers(dest="action", required=True)
    _with_config(groups_actions.add_parser("list", help="every group with its agents and deployments"))
    create = _with_config(groups_actions.add_parser("create", help="define a group"))
    create.add_argument("name")
    create.add_argument(
        "--grant",
        action="append",
        default=[],
        metavar="SUBJECT=ACTIONS",
        help="e.g. role:user=read or user:a@b.c=read,create (repeatable)",
    )
    create.add_argument("--description", default="")
    update = _with_config(groups_actions.add_parser("update", help="replace a group's grants or description"))
    update.add_argument("name")
    update.add_argument("--grant", action="append", default=None, metavar="SUBJECT=ACTIONS")
    update.add_argument("--description", default=None)
    for action in ("delete", "recreate"):
        _with_config(groups_actions.add_parser(action, help=f"{action} a group")).add_argument("name")

    agents = commands.add_parser("agents", help="list agents, shut one down, or take it out of service")
    agents_actions = agents.add_subparsers(dest="action", required=True)
    _with_config(agents_actions.add_parser("list", help="agents by group, and the Unknown ones"))
    _with_config(agents_actions.add_parser("shutdown", help="stop an agent in an error state")).add_argument("agent_id")
    override = _with_config(agents_actions.add_parser("override", help="set or clear an admin Out Of Service"))
    override.add_argument("agent_id")
    override.add_argument("state", choices=["OUT_OF_SERVICE", "none"])

    deployments = commands.add_parser("deployments", help="list, create, update or delete Web API Deployments")
    deployment_actions = deployments.add_subparsers(dest="action", required=True)
    _with_config(deployment_actions.add_parser("list", help="every deployment with its faults"))
    create = _with_config(deployment_actions.add_parser("create", help="add a deployment to a group"))
    create.add_argument("group")
    create.add_argument("definition", help='JSON, e.g. {"name":"echo","route_prefix":"/webapi/echo","upstreams":[...]}')
    update = _with_config(deployment_actions.add_parser("update", help="change fields of a deployment"))
    update.add_argument("name")
    update.add_argument("definition", help="JSON object of the fields to change")
    _with_config(deployment_actions.add_parser("delete", help="remove a deployment")).add_argument("name")


def _with_config(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("-f", "--config", type=Path, default=None, help="webui-host TOML file (names etcd)")
    return parser


def run(args: argparse.Namespace) -> int:
    # The etcd client is loaded by these commands only, not by every `webui-host` command.
    import asyncio

    from contract.webapi import InvalidDefinition
    from service_runtime.webapi_admin import Refused

    try:
        config = load_config(args.config)
        result = asyncio.run(_dispatch(config, args))
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    except Refused as refusal:
        print(f"webui-host: {refusal.title}: {refusal.detail}", file=sys.stderr)
        return 1
    except (InvalidDefinition, ValueError) as invalid:
        print(f"webui-host: invalid: {invalid}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2, default=str))
    return 0


async def _dispatch(config, args: argparse.Namespace) -> Any:
    from service_runtime.etcd import etcd_client
    from service_runtime.webapi_admin import WebApiAdmin
    from service_runtime.webapi_watch import read_snapshot

    snapshot = await read_snapshot(config)
    client = etcd_client(config)
    admin = WebApiAdmin(client, config)
    try:
        return await _perform(admin, snapshot, args)
    finally:
        await client.close()


async def _perform(admin: WebApiAdmin, snapshot, args: argparse.Namespace) -> Any:
    from contract.deployment_rules import deployment_faults
    from contract.webapi import Caller

    operator = Caller(*OPERATOR)
    key = (args.command, args.action)
    if key == ("groups", "list"):
        return {
            name: {
                "agents": [v.to_dict() for v in snapshot.agents_of(name)],
                "deployments": [d.name for d in snapshot.deployments_of(name)],
            }
            for name in sorted(snapshot.all_groups())
        }
    if key == ("groups", "create"):
        group = await admin.create_group(
            operator, snapshot, {"name": args.name, "grants": _grants(args.grant), "description": args.description}
        )
        return {"created": group.name, "reminder": f"start agents with WEBAPI_GROUP_NAME={group.name}"}
    if key == ("groups", "update"):
        changes = {
            k: v
            for k, v in (
                ("grants", None if args.grant is None else _grants(args.grant)),
                ("description", args.description),
            )
            if v is not None
        }
        return {"updated": (await admin.update_group(operator, snapshot, args.name, changes)).name}
    if key == ("groups", "delete"):
        await admin.delete_group(operator, snapshot, args.name)
        return {"deleted": args.name}
    if key == ("groups", "recreate"):
        return {"group": args.name, "generation": await admin.recreate(operator, snapshot, args.name)}
    if key == ("agents", "list"):
        return {
            "groups": {name: [v.to_dict() for v in snapshot.agents_of(name)] for name in sorted(snapshot.all_groups())},
            "unknown": [v.to_dict() for v in snapshot.unknown_agents()],
        }
    if key == ("agents", "shutdown"):
        await admin.shutdown(operator, snapshot, args.agent_id)
        return {"agent_id": args.agent_id, "shutdown": "requested"}
    if key == ("agents", "override"):
        await admin.set_override(operator, snapshot, args.agent_id, None if args.state == "none" else args.state)
        return {"agent_id": args.agent_id, "override": args.state}
    if key == ("deployments", "list"):
        return [{**json.loads(d.to_json()), "faults": deployment_faults(d)} for d in snapshot.deployments.values()]
    if key == ("deployments", "create"):
        deployment, faults = await admin.create_deployment(operator, snapshot, args.group, _json(args.definition))
        return {"created": deployment.name, "faults": faults}
    if key == ("deployments", "update"):
        deployment, faults = await admin.update_deployment(operator, snapshot, args.name, _json(args.definition))
        return {"updated": deployment.name, "revision": deployment.revision, "faults": faults}
    if key == ("deployments", "delete"):
        await admin.delete_deployment(operator, snapshot, args.name)
        return {"deleted": args.name}
    raise ValueError(f"unknown command {key}")


def _grants(entries: list[str]) -> list[dict[str, Any]]:
    grants = []
    for entry in entries:
        subject, _, actions = entry.rpartition("=")
        if not subject or not actions:
            raise ValueError(f"--grant {entry!r} is not SUBJECT=ACTION[,ACTION...]")
        grants.append({"subject": subject, "actions": [a.strip() for a in actions.split(",") if a.strip()]})
    return grants


def _json(text: str) -> dict[str, Any]:
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("the definition must be a JSON object")
    return document
