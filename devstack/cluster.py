"""The devstack's pretend cluster as the Manager describes it to one user: one domain, one project, one
resource group with one idle agent, one storage host, no sessions, folders or images.

``root_for`` is the GraphQL query root :func:`devstack.graphql.execute` projects queries onto; the
REST routes in :mod:`devstack.ui_routes` use the same constants, so both views agree.  Field names
and value types follow the Manager's 23.09 schema (``JSONString`` fields are JSON *text*, resource
slot amounts are decimal strings).  Lookups by argument (``keypair(access_key:)``, ``user(email:)``...)
answer ``null`` for anything but the caller's own record: there is no one else to see.

Keypair ``secret_key`` is always ``null``.  The real Manager returns it to the keypair's owner, but
webui-host promises that no secret key passes through the front door, and tests scan for that.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from devstack.graphql import Whole
from devstack.users import UserRecord

EPOCH = "2023-09-01T00:00:00+00:00"
DEFAULT_PROJECT = "default"
DEFAULT_POLICY = "default"
DEFAULT_SCALING_GROUP = "default"
STORAGE_HOST = "local:volume1"
RESOURCE_SLOTS = {"cpu": "8", "mem": "17179869184"}  # what the one agent offers
MAX_CONCURRENT_SESSIONS = 30

AGENT = {
    "id": "i-devstack",
    "status": "ALIVE",
    "status_changed": EPOCH,
    "region": "local",
    "architecture": "x86_64",
    "scaling_group": DEFAULT_SCALING_GROUP,
    "schedulable": True,
    "addr": "tcp://127.0.0.1:6011",
    "first_contact": EPOCH,
    "lost_at": None,
    "version": "23.09.10",
    "cpu_cur_pct": 0.0,
    "mem_cur_bytes": 0,
    "available_slots": json.dumps(RESOURCE_SLOTS),
    "occupied_slots": json.dumps({k: "0" for k in RESOURCE_SLOTS}),
    "live_stat": "{}",
    "compute_plugins": "{}",
    "hardware_metadata": "{}",
    "auto_terminate_abusing_kernel": False,
}
SCALING_GROUP = {
    "name": DEFAULT_SCALING_GROUP,
    "description": "The devstack's only resource group",
    "is_active": True,
    "is_public": True,
    "created_at": EPOCH,
    "wsproxy_addr": None,
    "wsproxy_api_token": None,
    "driver": "static",
    "driver_opts": "{}",
    "scheduler": "fifo",
    "scheduler_opts": "{}",
    "use_host_network": False,
}
VFOLDER_HOST_PERMISSIONS = [
    "create-vfolder",
    "modify-vfolder",
    "delete-vfolder",
    "mount-in-session",
    "upload-file",
    "download-file",
    "invite-others",
    "set-user-specific-permission",
]
ALLOWED_VFOLDER_HOSTS = json.dumps({STORAGE_HOST: VFOLDER_HOST_PERMISSIONS})
KEYPAIR_POLICY = {
    "name": DEFAULT_POLICY,
    "created_at": EPOCH,
    "default_for_unspecified": "UNLIMITED",
    "total_resource_slots": "{}",
    "max_session_lifetime": 0,
    "max_concurrent_sessions": MAX_CONCURRENT_SESSIONS,
    "max_containers_per_session": 1,
    "idle_timeout": 3600,
    "max_pending_session_count": None,
    "allowed_vfolder_hosts": ALLOWED_VFOLDER_HOSTS,
}
STORAGE_POLICY = {  # user_resource_policy and project_resource_policy share these fields
    "id": DEFAULT_POLICY,
    "name": DEFAULT_POLICY,
    "created_at": EPOCH,
    "max_vfolder_count": 0,
    "max_quota_scope_size": -1,
    "max_session_count_per_model_session": 10,
}


def project_id(domain: str, name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"devstack-project:{domain}/{name}"))


def matching(record: dict[str, Any], **arguments: str) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    """A field resolver: ``record`` unless an argument (GraphQL name -> record field) names another."""

    def resolve(args: dict[str, Any]) -> dict[str, Any] | None:
        for argument, field in arguments.items():
            if args.get(argument) is not None and str(args[argument]) != str(record[field]):
                return None
        return record

    return resolve


def paginated(*items: dict[str, Any]) -> dict[str, Any]:
    return {"items": list(items), "total_count": len(items)}


def root_for(user: UserRecord) -> dict[str, Any]:
    """The query root as ``user`` sees it."""
    name = user.email.split("@")[0]
    domain = {
        "name": user.domain,
        "description": "",
        "is_active": True,
        "created_at": EPOCH,
        "modified_at": EPOCH,
        "total_resource_slots": "{}",
        "allowed_vfolder_hosts": ALLOWED_VFOLDER_HOSTS,
        "allowed_docker_registries": ["cr.backend.ai"],
        "integration_id": None,
        "scaling_groups": [DEFAULT_SCALING_GROUP],
    }
    project = {
        "id": project_id(user.domain, DEFAULT_PROJECT),
        "name": DEFAULT_PROJECT,
        "description": "Default project",
        "is_active": True,
        "created_at": EPOCH,
        "modified_at": EPOCH,
        "domain_name": user.domain,
        "type": "GENERAL",
        "total_resource_slots": "{}",
        "allowed_vfolder_hosts": ALLOWED_VFOLDER_HOSTS,
        "integration_id": None,
        "resource_policy": DEFAULT_POLICY,
        "scaling_groups": [DEFAULT_SCALING_GROUP],
    }
    user_info = {
        "id": user.user_id,
        "uuid": user.user_id,
        "username": name,
        "email": user.email,
        "full_name": name,
        "description": "",
        "need_password_change": False,
        "status": user.status,
        "status_info": None,
        "is_active": user.is_active,
        "role": user.role,
        "domain_name": user.domain,
        "created_at": EPOCH,
        "modified_at": EPOCH,
        "resource_policy": DEFAULT_POLICY,
        "totp_activated": False,
        "sudo_session_enabled": False,
        "allowed_client_ip": None,
        "main_access_key": user.access_key,
        "groups": [{"id": project["id"], "name": project["name"]}],
    }
    keypair = {
        "access_key": user.access_key,
        "secret_key": None,
        "is_active": user.is_active,
        "is_admin": user.is_admin,
        "resource_policy": DEFAULT_POLICY,
        "user_id": user.email,
        "user": user.user_id,
        "full_name": name,
        "created_at": EPOCH,
        "modified_at": EPOCH,
        "last_used": None,
        "rate_limit": 1000,
        "num_queries": 0,
        "concurrency_used": 0,
        "ssh_public_key": None,
        "projects": [project["name"]],
    }
    superadmin = user.role == "superadmin"
    return {
        "__typename": "Query",
        "me": Whole({"email": user.email, "role": user.role, "access_key": user.access_key, "user_id": user.user_id}),
        "keypair": matching(keypair, access_key="access_key"),
        "keypairs": [keypair],
        "keypair_list": paginated(keypair),
        "user": matching(user_info, email="email", uuid="uuid"),
        "user_from_uuid": matching(user_info, user_id="uuid"),
        "users": [user_info],
        "user_list": paginated(user_info),
        "domain": matching(domain, name="name"),
        "domains": [domain],
        "group": matching(project, id="id", domain_name="domain_name"),
        "groups": [project],
        "keypair_resource_policy": matching(KEYPAIR_POLICY, name="name"),
        "keypair_resource_policies": [KEYPAIR_POLICY],
        "user_resource_policy": matching(STORAGE_POLICY, name="name"),
        "user_resource_policies": [STORAGE_POLICY],
        "project_resource_policy": matching(STORAGE_POLICY, name="name"),
        "project_resource_policies": [STORAGE_POLICY],
        "scaling_group": matching(SCALING_GROUP, name="name"),
        "scaling_groups": [SCALING_GROUP],
        "scaling_groups_for_user_group": [SCALING_GROUP],
        "scaling_groups_for_keypair": [SCALING_GROUP],
        "vfolder_host_permissions": {"vfolder_host_permission_list": VFOLDER_HOST_PERMISSIONS},
        "agents": [AGENT] if superadmin else None,  # the Manager answers agents to superadmins only
        "agent_list": paginated(AGENT) if superadmin else None,
        "agent_summary_list": paginated(AGENT),
        "compute_session_list": paginated(),
        "compute_sessions": [],
        "vfolder_list": paginated(),
        "vfolders": [],
        "images": [],
    }
