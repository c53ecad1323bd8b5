"""The devstack's GraphQL subset (devstack.graphql): the executor on a small table, then the GraphQL
route over HTTP with the official Web UI's login query (from test_cluster)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from devstack.cluster import root_for
from devstack.graphql import GraphQLSyntaxError, Whole, execute, parse
from devstack.users import default_users
from tests.devstack.manager_client import ADMIN, USER, assert_problem, make_jwt
from tests.devstack.test_cluster import LOGIN_QUERIES

ADMIN_RECORD, USER_RECORD, MONITOR_RECORD, _ = default_users()

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


# --- over HTTP --------------------------------------------------------------------------------


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
