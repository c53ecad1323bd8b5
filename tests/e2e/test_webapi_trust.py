"""The Web API Groups trust model on a running stack (security issue, item 1; the /func outage issue).

- The Manager deployment (``/func``) and group grants are defined by platform and endpoint admins
  only; no delegated right reaches them.
- A user's Backend.AI credentials go to the Manager deployment only: other deployments receive a
  signed identity assertion (verifiable with our JWKS, useless at the Manager) or nothing.
- Calling a deployment needs Read on its group.
- A faulty deployment in any group leaves ``/func`` answering for everyone.
"""

from __future__ import annotations

import aiohttp
import jwt
import pytest
from multidict import CIMultiDict

from contract.identity import ASSERTION_HEADER, JWKS_PATH
from tests.e2e.test_webapi_groups import GROUPS, broken_entry, overview
from tests.support.polling import eventually
from tests.support.stack import ADMIN_USER, NORMAL_USER
from tests.support.upstreams import RecordingServer

pytestmark = pytest.mark.slow
CREDENTIAL_HEADERS = ("Authorization", "X-BackendAI-Token", "Date")  # what the Manager would verify


@pytest.fixture
async def hostile():
    """The delegated user's own server: it must never receive anything."""
    with RecordingServer() as started:
        yield started


@pytest.fixture
async def delegated(client_for, agents, upstream):
    """NORMAL_USER holds every grantable right on DELEG, which has an agent and one identity deployment."""
    admin = await client_for(ADMIN_USER)
    grants = [{"subject": "user:user@lablup.com", "actions": ["read", "create", "update", "delete", "recreate"]}]
    async with admin.post(GROUPS, json={"name": "DELEG", "grants": grants}) as response:
        assert response.status in (201, 409)
    if "deleg-1" not in agents.processes:
        agents.start("deleg-1", "DELEG")
    user = await client_for(NORMAL_USER)
    async with user.post(
        f"{GROUPS}/DELEG/deployments",
        json={"name": "mine", "route_prefix": "/webapi/mine", "upstreams": [upstream.url]},
    ) as response:
        assert response.status in (201, 409), await response.text()
    async with user.patch("/api/webapi/deployments/mine", json={"upstreams": [upstream.url]}) as response:
        assert response.status == 200  # this test's upstream (the stack outlives each test's server)
    return admin, user


def attempts(hostile_url: str) -> list[tuple[str, str, str, dict, int]]:
    """(what, method, path, body, expected status) for a user holding all rights on DELEG."""
    manager_at_func = {"name": "manager", "route_prefix": "/func", "upstreams": [hostile_url], "signing": "hmac+jwt"}
    return [
        ("take over /func", "POST", f"{GROUPS}/DELEG/deployments", manager_at_func, 403),
        (
            "hmac+jwt to its own server",
            "POST",
            f"{GROUPS}/DELEG/deployments",
            {"name": "harvest", "route_prefix": "/webapi/harvest", "upstreams": [hostile_url], "signing": "hmac+jwt"},
            400,
        ),
        (
            "hmac to its own server",
            "POST",
            f"{GROUPS}/DELEG/deployments",
            {"name": "harvest", "route_prefix": "/webapi/harvest", "upstreams": [hostile_url], "signing": "hmac"},
            400,
        ),
        (
            "a deployment at another route",
            "POST",
            f"{GROUPS}/DELEG/deployments",
            {"name": "shadow", "route_prefix": "/server", "upstreams": [hostile_url], "signing": "none"},
            400,
        ),
        ("switch its deployment to hmac", "PATCH", "/api/webapi/deployments/mine", {"signing": "hmac"}, 400),
        (
            "grant itself everything",
            "PATCH",
            f"{GROUPS}/DELEG",
            {"grants": [{"subject": "*", "actions": ["read", "create", "update", "delete", "recreate"]}]},
            403,
        ),
        ("grant everyone read", "PATCH", f"{GROUPS}/DELEG", {"grants": [{"subject": "*", "actions": ["read"]}]}, 403),
        (
            "redefine the manager deployment",
            "PATCH",
            "/api/webapi/deployments/manager",
            {"upstreams": [hostile_url]},
            404,
        ),
        ("delete the manager deployment", "DELETE", "/api/webapi/deployments/manager", {}, 404),
    ]


async def test_delegated_rights_never_reach_the_manager_deployment_or_the_grants(delegated, hostile):
    admin, user = delegated
    for what, method, path, body, expected in attempts(hostile.url):
        async with user.request(method, path, json=body) as response:
            assert response.status == expected, (what, await response.text())
            assert response.content_type == "application/problem+json", what
    async with user.patch(f"{GROUPS}/DELEG", json={"description": "still allowed"}) as response:
        assert response.status == 200  # Update still covers what it is for
    for session in (admin, user):  # the Manager still answers /func, for everyone
        async with session.post("/func/admin/graphql", json={"query": "{ user { email role } }"}) as response:
            assert response.status == 200, await response.text()
    assert hostile.received == []


async def jwks_keys(session: aiohttp.ClientSession) -> dict[str, jwt.PyJWK]:
    async with session.get(JWKS_PATH) as response:
        assert response.status == 200
        document = await response.json()
    assert all("d" not in key for key in document["keys"])
    return {key.key_id: key for key in jwt.PyJWKSet.from_dict(document).keys}


async def test_other_deployments_get_an_identity_assertion_never_credentials(delegated, upstream, groups_stack):
    admin, _user = delegated

    async def answered():
        async with admin.get("/webapi/mine/score?echo=1") as response:
            return response.status == 200

    await eventually(answered)
    async with admin.post("/webapi/mine/admin/graphql", json={"query": "{ user { email } }"}) as response:
        assert response.status == 200  # a GraphQL-looking path is no reason for a Manager JWT either
    for headers in upstream.received:  # the proxied requests and the health probes alike
        leaked = [name for name in CREDENTIAL_HEADERS if name in headers]
        assert leaked == [], leaked
        assert "AIOHTTP_SESSION" not in headers.get("Cookie", "")
    proxied = [CIMultiDict(h) for _method, path, h in upstream.requests if path == "/admin/graphql"]
    token = proxied[-1][ASSERTION_HEADER]
    keys = await jwks_keys(admin)
    claims = jwt.decode(
        token,
        keys[jwt.get_unverified_header(token)["kid"]].key,
        algorithms=["ES256"],
        audience="mine",
        issuer="webui-host",
    )
    assert (claims["sub"], claims["role"]) == ("admin@lablup.com", "superadmin")
    assert claims["exp"] - claims["iat"] <= 60

    # What the upstream learnt is worth nothing at the Manager.
    async with aiohttp.ClientSession() as direct:
        for replay in ({"X-BackendAI-Token": token}, {"Authorization": f"Bearer {token}"}):
            async with direct.post(
                f"{groups_stack.manager_url}/admin/graphql",
                json={"query": "{ user { role } }"},
                headers={**replay, "X-BackendAI-Version": "v8.20240315"},
            ) as response:
                assert response.status in (400, 401), replay  # refused, never served


async def test_calling_a_deployment_needs_read_on_its_group(client_for, agents, upstream):
    admin = await client_for(ADMIN_USER)
    async with admin.post(GROUPS, json={"name": "NOREAD"}) as response:
        assert response.status in (201, 409)
    async with admin.post(
        f"{GROUPS}/NOREAD/deployments",
        json={"name": "hidden", "route_prefix": "/webapi/hidden", "upstreams": [upstream.url], "signing": "none"},
    ) as response:
        assert response.status in (201, 409), await response.text()

    async def admin_reaches_it():
        async with admin.get("/webapi/hidden/x") as response:
            return response.status == 200

    await eventually(admin_reaches_it)
    seen = upstream.paths.count("/x")
    user = await client_for(NORMAL_USER)
    for method in ("GET", "POST", "DELETE"):
        async with user.request(method, "/webapi/hidden/x") as response:
            assert response.status == 404, method
    assert upstream.paths.count("/x") == seen  # nothing reached the upstream for a user without Read


@pytest.mark.parametrize("caller", [ADMIN_USER, NORMAL_USER])
async def test_deployments_invalid_on_their_face_are_refused_listing_every_problem(delegated, client_for, caller):
    session = await client_for(caller)
    bad = {
        "name": "broken",
        "route_prefix": "/webapi/wrong",
        "upstreams": ["ftp://nowhere:99999", "http://h:0"],
        "signing": "rsa",
        "connect_timeout": 0,
    }
    async with session.post(f"{GROUPS}/DELEG/deployments", json=bad) as response:
        assert response.status == 400
        body = await response.json()
    assert len(body["problems"]) >= 2  # shape problems first, all of them
    bad.update(signing="none", connect_timeout=5)
    async with session.post(f"{GROUPS}/DELEG/deployments", json=bad) as response:
        assert response.status == 400
        problems = (await response.json())["problems"]
    assert len(problems) == 3, problems  # route, and both upstreams


@pytest.mark.parametrize("group", ["DEFAULT", "DELEG"])
async def test_a_faulty_deployment_never_takes_func_down(delegated, client_for, groups_stack, group):
    admin, user = delegated
    groups_stack.etcd_put(
        "deployments", f"broken-{group.lower()}", broken_entry(group, f"broken-{group.lower()}", "ftp://nowhere:99999")
    )
    try:

        async def faulty_agents_shown():
            body = await overview(admin)
            entry = next(g for g in body["groups"] if g["name"] == group)
            agents = [a for a in entry["agents"] if a["state"] != "UNKNOWN"]
            faulty = [a for a in agents if a["state"] == "OUT_OF_SERVICE" and "broken" in (a["fault"] or "")]
            return faulty if agents and len(faulty) == len(agents) else None

        faulty = await eventually(faulty_agents_shown)
        if group == "DEFAULT":
            assert all(a["serving"] == ["manager"] for a in faulty)
        statuses = []
        for _ in range(20):
            for session in (admin, user):
                async with session.get("/func/auth/role") as response:
                    statuses.append(response.status)
        assert set(statuses) == {200}, statuses
    finally:
        async with admin.delete(f"/api/webapi/deployments/broken-{group.lower()}") as response:
            assert response.status == 204

    async def all_up_again():
        entry = next(g for g in (await overview(admin))["groups"] if g["name"] == group)
        return all(a["state"] in ("UP", "UNKNOWN") for a in entry["agents"])

    await eventually(all_up_again)
