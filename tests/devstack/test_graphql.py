"""The devstack's GraphQL subset (devstack.graphql), its cluster table (devstack.cluster) and the REST
calls the official Web UI makes after login (devstack.ui_routes).

The login queries are copied verbatim from the 23.09 Web UI bundle, so a change that breaks the
official UI's login shows up here without a browser.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from devstack.app import create_app
from devstack.cluster import ALLOWED_VFOLDER_HOSTS, STORAGE_HOST, VFOLDER_HOST_PERMISSIONS, project_id, root_for
from devstack.graphql import GraphQLSyntaxError, Whole, execute, parse
from devstack.users import default_users, stable_user_id
from tests.devstack.test_manager_app import ADMIN, USER, assert_problem, make_jwt, signed

ADMIN_RECORD, USER_RECORD, MONITOR_RECORD, _ = default_users()
PROJECT_ID = project_id("default", "default")

# --- the executor, on a small table -------------------------------------------------------

TABLE: dict[str, Any] = {
    "n": 1,
    "s": "text",
    "obj": {"a": 1, "b": {"c": 2, "d": 3}, "tags": ["x", "y"]},
    "items": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}],
    "echo": lambda args: {"args": json.dumps(args, sort_keys=True)},
    "whole": Whole({"a": 1, "b": 2}),
    "nothing": None,
}

EXECUTE_CASES = [
    # (id, query, variables, expected data)
    ("leaves", "{ n s }", None, {"n": 1, "s": "text"}),
    ("query-keyword-and-name", "query Named { n }", None, {"n": 1}),
    ("alias", "{ one: n two: n }", None, {"one": 1, "two": 1}),
    ("nested", "{ obj { a b { d } } }", None, {"obj": {"a": 1, "b": {"d": 3}}}),
    ("leaf-list", "{ obj { tags } }", None, {"obj": {"tags": ["x", "y"]}}),
    ("object-list", "{ items { name } }", None, {"items": [{"name": "one"}, {"name": "two"}]}),
    (
        "unknown-fields-are-null",
        "{ missing { deep { er } } obj { nope } }",
        None,
        {"missing": None, "obj": {"nope": None}},
    ),
    ("null-object", "{ nothing { a } }", None, {"nothing": None}),
    ("scalar-asked-as-object", "{ n { a } }", None, {"n": None}),
    ("object-asked-as-leaf", "{ obj }", None, {"obj": TABLE["obj"]}),
    (
        "literal-arguments",
        '{ echo(s: "a\\"b", i: -3, f: 1.5e2, t: true, z: null, e: ENUM, l: [1, 2], o: {k: "v"}) { args } }',
        None,
        {
            "echo": {
                "args": json.dumps(
                    {"s": 'a"b', "i": -3, "f": 150.0, "t": True, "z": None, "e": "ENUM", "l": [1, 2], "o": {"k": "v"}},
                    sort_keys=True,
                )
            }
        },
    ),
    (
        "block-string-argument",
        '{ echo(s: """multi\nline""") { args } }',
        None,
        {"echo": {"args": json.dumps({"s": "multi\nline"})}},
    ),
    (
        "variables-bound",
        "query($x: String!, $l: [Int!] = [1], $m: Int) { echo(x: $x, l: $l, m: $m, in: {k: $x}) { args } }",
        {"x": "v"},
        {"echo": {"args": json.dumps({"in": {"k": "v"}, "l": [1], "m": None, "x": "v"}, sort_keys=True)}},
    ),
    (
        "variable-overrides-default",
        "query($l: Int = 1) { echo(l: $l) { args } }",
        {"l": 2},
        {"echo": {"args": json.dumps({"l": 2})}},
    ),
    ("tab-in-string", '{ echo(s: "a\tb") { args } }', None, {"echo": {"args": json.dumps({"s": "a\tb"})}}),
    ("commas-and-comments", "query {\n  # a comment\n  n, s, # another\n}", None, {"n": 1, "s": "text"}),
    ("named-fragment", "{ obj { ...F } } fragment F on Obj { a b { c } }", None, {"obj": {"a": 1, "b": {"c": 2}}}),
    (
        "fragments-merge",
        "{ obj { b { c } ...F } items { id } items { name } } fragment F on Obj { b { d } }",
        None,
        {"obj": {"b": {"c": 2, "d": 3}}, "items": [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]},
    ),
    ("inline-fragment", "{ obj { ... on Obj { a } ... { b { c } } } }", None, {"obj": {"a": 1, "b": {"c": 2}}}),
    (
        "include-skip-literal",
        "{ n @include(if: false) s @skip(if: false) obj @skip(if: true) { a } }",
        None,
        {"s": "text"},
    ),
    (
        "include-variable",
        "query($on: Boolean!) { n @include(if: $on) s @include(if: $on) @skip(if: true) }",
        {"on": True},
        {"n": 1},
    ),
    (
        "skipped-fragment",
        "query($off: Boolean!) { ...F @include(if: $off) s } fragment F on Q { n }",
        {"off": False},
        {"s": "text"},
    ),
    ("unknown-directive-ignored", '{ n @connection(key: "k") }', None, {"n": 1}),
    ("whole-ignores-selection", "{ whole { a } }", None, {"whole": {"a": 1, "b": 2}}),
    (
        "fragment-cycle-is-cut",
        "{ obj { ...A } } fragment A on O { a ...B } fragment B on O { ...A }",
        None,
        {"obj": {"a": 1}},
    ),
]


@pytest.mark.parametrize(
    "query, variables, expected", [c[1:] for c in EXECUTE_CASES], ids=[c[0] for c in EXECUTE_CASES]
)
def test_execute(query: str, variables: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    assert execute(query, TABLE, variables) == {"data": expected}


def test_operation_is_chosen_by_name() -> None:
    document = "query A { n } query B { s }"
    assert execute(document, TABLE, operation_name="B") == {"data": {"s": "text"}}
    assert parse(document, "A")[0].name == "A"


@pytest.mark.parametrize("kind", ["mutation", "subscription"])
def test_only_queries_run(kind: str) -> None:
    result = execute(f"{kind} M {{ n }}", TABLE)
    assert result["data"] is None and kind in result["errors"][0]["message"]


SYNTAX_ERRORS = [
    # (id, document, operation name)
    ("not-graphql", "x", None),
    ("unclosed", "{ n", None),
    ("empty-selection", "{ }", None),
    ("empty-document", "  # nothing\n", None),
    ("fragment-only", "fragment F on T { a }", None),
    ("missing-value", "{ echo(a: ) { args } }", None),
    ("bad-character", "{ n % }", None),
    ("bad-variable-definition", "query(x: Int) { n }", None),
    ("unknown-fragment", "{ ...Nope }", None),
    ("ambiguous-operation", "query A { n } query B { s }", None),
    ("unknown-operation", "query A { n }", "B"),
    ("too-deep", "{ a " * 5000 + "}" * 5000, None),
]


@pytest.mark.parametrize("document, operation_name", [c[1:] for c in SYNTAX_ERRORS], ids=[c[0] for c in SYNTAX_ERRORS])
def test_syntax_errors(document: str, operation_name: str | None) -> None:
    with pytest.raises(GraphQLSyntaxError):
        execute(document, TABLE, operation_name=operation_name)


# --- the cluster table: what the 23.09 Web UI asks right after login -----------------------

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


# --- over HTTP --------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_app())) as test_client:
        yield test_client


async def gql(client: TestClient, body: dict[str, Any], keypair=USER):
    return await client.post("/admin/gql", json=body, headers={"X-BackendAI-Token": make_jwt(keypair)})


async def test_the_login_query_over_http(client: TestClient) -> None:
    response = await gql(client, {"query": LOGIN_QUERIES[0][2], "variables": {}}, ADMIN)
    assert response.status == 200
    assert await response.json() == {"data": LOGIN_QUERIES[0][4], "extensions": {"auth_method": "jwt"}}


async def test_get_carries_variables_as_json_and_operation_name(client: TestClient) -> None:
    query = "query A { n: __typename } query B($k: String) { keypair(access_key: $k) { access_key } }"
    params = {"query": query, "variables": json.dumps({"k": USER.access_key}), "operationName": "B"}
    response = await client.get("/admin/graphql", params=params, headers={"X-BackendAI-Token": make_jwt(USER)})
    assert (await response.json())["data"] == {"keypair": {"access_key": USER.access_key}}


@pytest.mark.parametrize("variables", ["[1]", "{", 3])
async def test_malformed_variables_are_invalid_params(client: TestClient, variables: Any) -> None:
    response = await gql(client, {"query": "{ me }", "variables": variables})
    await assert_problem(response, 400, "invalid-api-params")


async def test_unreadable_query_keeps_the_old_stand_in_answer_and_says_why(client: TestClient) -> None:
    body = await (await gql(client, {"query": "x"})).json()
    assert body["data"] == {"me": root_for(USER_RECORD)["me"]}
    assert body["errors"][0]["message"].startswith("devstack: ")
    assert body["extensions"] == {"auth_method": "jwt"}


async def test_mutations_are_refused_in_graphql_terms(client: TestClient) -> None:
    response = await gql(client, {"query": 'mutation { create_keypair(user_id: "x") { ok } }'})
    body = await response.json()
    assert response.status == 200 and body["data"] is None and body["errors"]


# --- REST calls after login --------------------------------------------------------------------

REST_CASES = [
    # (id, method, target, body, expected JSON)
    ("announcement", "GET", "/manager/announcement", None, {"enabled": False, "message": ""}),
    ("scaling-groups", "GET", "/scaling-groups?group=default", None, {"scaling_groups": [{"name": "default"}]}),
    (
        "vfolder-hosts",
        "GET",
        f"/folders/_/hosts?group_id={PROJECT_ID}",
        None,
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
        },
    ),
    ("invitations", "GET", "/folders/invitations/list", None, {"invitations": []}),
    ("folders", "GET", f"/folders?group_id={PROJECT_ID}", None, []),
    ("resource-slots", "GET", "/config/resource-slots", None, {"cpu": "count", "mem": "bytes"}),
]


@pytest.mark.parametrize("method, target, body, expected", [c[1:] for c in REST_CASES], ids=[c[0] for c in REST_CASES])
async def test_rest_calls_after_login(
    client: TestClient, method: str, target: str, body: bytes | None, expected: Any
) -> None:
    response = await signed(client, method, target, USER, data=body)
    assert response.status == 200, await response.text()
    assert await response.json() == expected
    await assert_problem(await client.request(method, target), 401, "auth-failed")  # signed only


async def test_check_presets_has_every_part_the_summary_reads(client: TestClient) -> None:
    body = json.dumps({"group": "default", "scaling_group": "default"}).encode()
    response = await signed(client, "POST", "/resource/check-presets", USER, data=body, content_type="application/json")
    assert response.status == 200, await response.text()
    presets = await response.json()
    for part in ("keypair_limits", "keypair_using", "keypair_remaining", "group_limits", "group_using"):
        assert set(presets[part]) == {"cpu", "mem"}
    assert presets["keypair_limits"]["cpu"] == "Infinity"
    assert presets["scaling_groups"]["default"]["remaining"] == {"cpu": "8", "mem": "17179869184"}
    assert presets["presets"][0]["allocatable"] is True


@pytest.mark.parametrize(
    "method, target, body",
    [
        ("GET", "/scaling-groups", None),
        ("POST", "/resource/check-presets", b"[]"),
    ],
    ids=["scaling-groups-without-group", "check-presets-non-object"],
)
async def test_rest_parameter_errors_are_problems(
    client: TestClient, method: str, target: str, body: bytes | None
) -> None:
    response = await signed(client, method, target, USER, data=body, content_type="application/json" if body else None)
    await assert_problem(response, 400, "invalid-api-params")
