"""The devstack's cluster table (devstack.cluster) answering the official Web UI's queries.

The login queries are copied verbatim from the 23.09 Web UI bundle, so a change that breaks the
official UI's login shows up here without a browser.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.cluster import ALLOWED_VFOLDER_HOSTS, VFOLDER_HOST_PERMISSIONS, project_id, root_for
from devstack.graphql import execute
from devstack.users import default_users, stable_user_id
from tests.devstack.manager_client import ADMIN, USER

ADMIN_RECORD, USER_RECORD, MONITOR_RECORD, _ = default_users()
PROJECT_ID = project_id("default", "default")


LOGIN_QUERIES = [
    # (id, user, query, variables, expected data); queries verbatim from the bundle
    (
        "keypair",
        ADMIN_RECORD,
        "query { keypair { user_id resource_policy user } }",
        {},
        {
            "keypair": {
                "user_id": "admin@lablup.com",
                "resource_policy": "default",
                "user": stable_user_id("admin@lablup.com"),
            }
        },
    ),
    (
        "user",
        USER_RECORD,
        "query { user{ username email full_name is_active role domain_name groups {name, id} need_password_change } }",
        {"uuid": stable_user_id("user@lablup.com")},
        {
            "user": {
                "username": "user",
                "email": "user@lablup.com",
                "full_name": "user",
                "is_active": True,
                "role": "user",
                "domain_name": "default",
                "groups": [{"name": "default", "id": PROJECT_ID}],
                "need_password_change": False,
            }
        },
    ),
    (
        "groups",
        ADMIN_RECORD,
        "query($is_active:Boolean, $type:[String!]) {  groups(is_active:$is_active, type:$type) "
        "{ id name description is_active }}",
        {"is_active": True, "type": ["GENERAL"]},
        {"groups": [{"id": PROJECT_ID, "name": "default", "description": "Default project", "is_active": True}]},
    ),
    (
        "own-keypair-by-key",
        USER_RECORD,
        "query($access_key: String!) {  keypair(access_key: $access_key) {    resource_policy concurrency_used  }}",
        {"access_key": USER.access_key},
        {"keypair": {"resource_policy": "default", "concurrency_used": 0}},
    ),
    (
        "someone-elses-keypair",
        USER_RECORD,
        "query($k: String!) { keypair(access_key: $k) { access_key } }",
        {"k": ADMIN.access_key},
        {"keypair": None},
    ),
    (
        "secret-key-never-leaves",
        ADMIN_RECORD,
        "{ keypair { access_key secret_key } keypairs { secret_key } }",
        {},
        {"keypair": {"access_key": ADMIN.access_key, "secret_key": None}, "keypairs": [{"secret_key": None}]},
    ),
    (
        "keypair-resource-policy",
        USER_RECORD,
        "query($n:String!) {  keypair_resource_policy(name: $n) { "
        "default_for_unspecified total_resource_slots max_concurrent_sessions max_containers_per_session "
        "max_session_lifetime }}",
        {"n": "default"},
        {
            "keypair_resource_policy": {
                "default_for_unspecified": "UNLIMITED",
                "total_resource_slots": "{}",
                "max_concurrent_sessions": 30,
                "max_containers_per_session": 1,
                "max_session_lifetime": 0,
            }
        },
    ),
    (
        "session-count",
        USER_RECORD,
        "query($limit:Int!, $offset:Int!, $ak:String, $group_id:String, $status:String) "
        "{\n compute_session_list(limit:$limit, offset:$offset, access_key:$ak, group_id:$group_id, status:$status) "
        "{\n items { name}\n total_count\n }\n }",
        {"limit": 1000, "offset": 0, "status": "RUNNING", "ak": None},
        {"compute_session_list": {"items": [], "total_count": 0}},
    ),
    (
        "agents-for-superadmin",
        ADMIN_RECORD,
        "query($status: String) {  agents(status: $status) {     id status occupied_slots available_slots  }}",
        {"status": "ALIVE"},
        {
            "agents": [
                {
                    "id": "i-devstack",
                    "status": "ALIVE",
                    "occupied_slots": '{"cpu": "0", "mem": "0"}',
                    "available_slots": '{"cpu": "8", "mem": "17179869184"}',
                }
            ]
        },
    ),
    ("no-agents-for-others", MONITOR_RECORD, "{ agents { id } }", {}, {"agents": None}),
    (
        "relay-operation",
        USER_RECORD,
        "query PasswordChangeRequestAlertQuery {\n  user {\n    need_password_change\n    id\n  }\n}\n",
        {},
        {"user": {"need_password_change": False, "id": stable_user_id("user@lablup.com")}},
    ),
    (
        "relay-alias",
        ADMIN_RECORD,
        "query ProjectSelectorQuery($domain_name: String) {\n  projects: groups("
        "domain_name: $domain_name, is_active: true) {\n    id\n    is_active\n    name\n    resource_policy\n  }\n}\n",
        {"domain_name": "default"},
        {"projects": [{"id": PROJECT_ID, "is_active": True, "name": "default", "resource_policy": "default"}]},
    ),
    (
        "user-by-email",
        ADMIN_RECORD,
        "query($email:String) {  user (email:$email) { role }}",
        {"email": "admin@lablup.com"},
        {"user": {"role": "superadmin"}},
    ),
    (
        "someone-else-by-email",
        USER_RECORD,
        "query($email:String) { user(email:$email) { role } }",
        {"email": "admin@lablup.com"},
        {"user": None},
    ),
    (
        "images",
        USER_RECORD,
        "query($installed:Boolean) {  images(is_installed:$installed) { name tag "
        "resource_limits { key min max } labels { key value } }}",
        {"installed": True},
        {"images": []},
    ),
    (
        "storage-permissions",
        USER_RECORD,
        "query($domainName: String, $projectId: UUID!, $resourcePolicyName: String) "
        "{ domain(name: $domainName) { allowed_vfolder_hosts } group(id: $projectId, domain_name: $domainName) "
        "{ allowed_vfolder_hosts } keypair_resource_policy(name: $resourcePolicyName) { allowed_vfolder_hosts } "
        "vfolder_host_permissions { vfolder_host_permission_list } }",
        {"domainName": "default", "projectId": PROJECT_ID, "resourcePolicyName": "default"},
        {
            "domain": {"allowed_vfolder_hosts": ALLOWED_VFOLDER_HOSTS},
            "group": {"allowed_vfolder_hosts": ALLOWED_VFOLDER_HOSTS},
            "keypair_resource_policy": {"allowed_vfolder_hosts": ALLOWED_VFOLDER_HOSTS},
            "vfolder_host_permissions": {"vfolder_host_permission_list": VFOLDER_HOST_PERMISSIONS},
        },
    ),
    (
        "legacy-me",
        USER_RECORD,
        "{ me { email } }",
        {},
        {
            "me": {
                "email": "user@lablup.com",
                "role": "user",
                "access_key": USER.access_key,
                "user_id": stable_user_id("user@lablup.com"),
            }
        },
    ),
    ("typename", USER_RECORD, "{ __typename }", {}, {"__typename": "Query"}),
]


@pytest.mark.parametrize(
    "user, query, variables, expected", [c[1:] for c in LOGIN_QUERIES], ids=[c[0] for c in LOGIN_QUERIES]
)
def test_cluster_answers_the_web_uis_queries(
    user, query: str, variables: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert execute(query, root_for(user), variables) == {"data": expected}


def test_json_string_fields_hold_json_text() -> None:
    root = root_for(ADMIN_RECORD)
    data = execute(
        "{ agents { available_slots occupied_slots } groups { total_resource_slots "
        "allowed_vfolder_hosts } keypair_resource_policies { total_resource_slots } }",
        root,
    )["data"]
    texts = [
        data["agents"][0]["available_slots"],
        data["agents"][0]["occupied_slots"],
        data["groups"][0]["total_resource_slots"],
        data["groups"][0]["allowed_vfolder_hosts"],
        data["keypair_resource_policies"][0]["total_resource_slots"],
    ]
    assert all(isinstance(json.loads(text), dict) for text in texts)
