"""Web API Groups with real etcd and real signer processes, driven through the JSON API."""

from __future__ import annotations

import asyncio
import json
import signal

import aiohttp
import pytest

from tests.support.polling import eventually
from tests.support.stack import ADMIN_USER, NORMAL_USER

pytestmark = pytest.mark.slow
MONITOR_USER = ("monitor@lablup.com", "7tuEwF1J")
GROUPS = "/api/webapi/groups"


async def overview(session) -> dict:
    async with session.get(GROUPS) as response:
        assert response.status == 200, await response.text()
        return await response.json()


def agent_in(body: dict, group: str, agent_id: str) -> dict | None:
    for entry in body["groups"]:
        if entry["name"] == group:
            return next((a for a in entry["agents"] if a["agent_id"] == agent_id), None)
    return None


async def test_default_group_and_manager_deployment_out_of_the_box(client_for):
    user = await client_for(NORMAL_USER)

    async def default_with_both_agents_up():
        body = await overview(user)
        default = next(g for g in body["groups"] if g["name"] == "DEFAULT")
        up = [a for a in default["agents"] if a["state"] == "UP"]
        return (body, default) if len(up) == 2 else None

    body, default = await eventually(default_with_both_agents_up)
    assert [d["name"] for d in default["deployments"]] == ["manager"]
    assert "unknown" not in body and default["allowed_actions"] == ["read"]


async def test_unknown_agent_joins_when_its_group_is_created_and_serves_only_its_deployment(
    client_for, agents, groups_stack, upstream
):
    admin = await client_for(ADMIN_USER)
    agents.start("extra-a", "NEW_GROUP")

    async def listed_as_unknown():
        body = await overview(admin)
        found = next((a for a in body["unknown"] if a["agent_id"] == "extra-a"), None)
        return found if found and found["state"] == "STARTING" else None  # once its first sync is over

    unknown = await eventually(listed_as_unknown)
    assert unknown["state"] == "STARTING" and "not defined" in unknown["fault"]

    grants = [{"subject": "user:user@lablup.com", "actions": ["read", "create"]}]
    async with admin.post(GROUPS, json={"name": "NEW_GROUP", "grants": grants}) as response:
        assert response.status == 201
        assert "WEBAPI_GROUP_NAME=NEW_GROUP" in (await response.json())["reminder"]

    async def up_in_group():
        agent = agent_in(await overview(admin), "NEW_GROUP", "extra-a")
        return agent if agent and agent["state"] == "UP" else None

    await eventually(up_in_group)
    deployment = {"name": "echo", "route_prefix": "/webapi/echo", "upstreams": [upstream.url]}
    async with admin.post(f"{GROUPS}/NEW_GROUP/deployments", json=deployment) as response:
        assert response.status == 201, await response.text()
    await eventually(up_in_group)

    async def deployment_answers():
        async with admin.get("/webapi/echo/auth?echo=group") as response:
            return response.status == 200 and upstream.paths[-1] == "/auth?echo=group"

    await eventually(deployment_answers)
    # Only NEW_GROUP's agent signs for it: without it, requests fail although DEFAULT's agents are Up.
    agents.processes["extra-a"].send_signal(signal.SIGKILL)
    agents.processes["extra-a"].wait()

    async def refused_without_its_group():
        async with admin.get("/webapi/echo/auth?echo=x") as response:
            return response.status == 503

    await eventually(refused_without_its_group)
    async with admin.get("/func/auth?echo=still-fine") as response:
        assert response.status == 200

    async def shown_as_unknown():
        agent = agent_in(await overview(admin), "NEW_GROUP", "extra-a")
        return agent and agent["state"] == "UNKNOWN"

    await eventually(shown_as_unknown)
    async with admin.delete("/api/webapi/deployments/echo") as response:
        assert response.status == 204


async def test_traffic_survives_losing_one_of_two_agents(client_for, agents, groups_stack, upstream):
    admin = await client_for(ADMIN_USER)
    async with admin.post(GROUPS, json={"name": "PAIR"}) as response:
        assert response.status == 201
    deployment = {"name": "pair", "route_prefix": "/webapi/pair", "upstreams": [upstream.url]}
    async with admin.post(f"{GROUPS}/PAIR/deployments", json=deployment) as response:
        assert response.status == 201
    agents.start("pair-1", "PAIR")
    agents.start("pair-2", "PAIR")

    async def both_up():
        body = await overview(admin)
        states = [agent_in(body, "PAIR", a) for a in ("pair-1", "pair-2")]
        return all(s and s["state"] == "UP" for s in states)

    await eventually(both_up)
    statuses = []

    async def call(i):
        async with admin.get(f"/webapi/pair/auth?echo={i}") as response:
            statuses.append(response.status)

    await asyncio.gather(*(call(i) for i in range(40)))
    agents.processes["pair-1"].send_signal(signal.SIGKILL)
    for batch in range(10):
        await asyncio.gather(*(call(batch * 10 + i) for i in range(10)))
    assert set(statuses) == {200}, statuses
    async with admin.delete("/api/webapi/deployments/pair") as response:
        assert response.status == 204


def broken_entry(group: str, name: str = "broken", upstream: str = "https://api.example.com:443") -> bytes:
    """A deployment our API would refuse, as an older version or ``etcdctl`` may have stored it."""
    return json.dumps(
        {
            "name": name,
            "group": group,
            "route_prefix": f"/webapi/{name}",
            "upstreams": [upstream],
            "signing": "identity",
            "revision": 1,
        }
    ).encode()


async def test_faulty_deployment_turns_agents_out_of_service_until_fixed_or_deleted(
    client_for, agents, groups_stack, upstream
):
    admin = await client_for(ADMIN_USER)
    async with admin.post(GROUPS, json={"name": "FAULTY"}) as response:
        assert response.status == 201
    agents.start("faulty-1", "FAULTY")

    async def state_of_agent(expected):
        agent = agent_in(await overview(admin), "FAULTY", "faulty-1")
        if agent and agent["state"] == "OUT_OF_SERVICE" and agent["fault"] is None:
            return None  # still syncing: wait for the outcome
        return agent if agent and agent["state"] == expected else None

    await eventually(lambda: state_of_agent("UP"))
    groups_stack.etcd_put("deployments", "broken", broken_entry("FAULTY"))
    agent = await eventually(lambda: state_of_agent("OUT_OF_SERVICE"))
    assert "broken" in agent["fault"]

    # Shutdown: refused for an Up agent of DEFAULT, accepted for this one in an error state.
    default_group = next(g for g in (await overview(admin))["groups"] if g["name"] == "DEFAULT")
    default_agent = next(a for a in default_group["agents"] if a["state"] == "UP")
    async with admin.post(f"/api/webapi/agents/{default_agent['agent_id']}/shutdown") as response:
        assert response.status == 409
        assert "error state" in (await response.json())["detail"]

    async with admin.patch("/api/webapi/deployments/broken", json={"upstreams": [upstream.url]}) as response:
        assert response.status == 200 and (await response.json())["faults"] == []
    await eventually(lambda: state_of_agent("UP"))

    async with admin.patch("/api/webapi/deployments/broken", json={"upstreams": ["ftp://x"]}) as response:
        assert response.status == 400  # invalid on its face: refused, the stored one is untouched
    async with admin.delete("/api/webapi/deployments/broken") as response:
        assert response.status == 204
    await eventually(lambda: state_of_agent("UP"))

    groups_stack.etcd_put("deployments", "broken", broken_entry("FAULTY"))
    await eventually(lambda: state_of_agent("OUT_OF_SERVICE"))
    async with admin.post("/api/webapi/agents/faulty-1/shutdown") as response:
        assert response.status == 202
    assert agents.processes["faulty-1"].wait(timeout=15) == 0  # a clean exit; supervisord would restart it
    async with admin.delete("/api/webapi/deployments/broken") as response:
        assert response.status == 204


@pytest.mark.parametrize(
    "user, expected",
    [
        # (create group, update PERM group, delete PERM deployment, create deployment, recreate, overview sees PERM)
        (ADMIN_USER, (201, 200, 204, 201, 202, True)),
        (MONITOR_USER, (201, 200, 204, 201, 202, True)),  # an endpoint admin by configuration
        (NORMAL_USER, (403, 403, 403, 201, 403, True)),  # granted read + create on PERM
    ],
)
async def test_permission_matrix_is_enforced_by_the_api(client_for, groups_stack, upstream, user, expected):
    admin = await client_for(ADMIN_USER)
    grants = [{"subject": "user:user@lablup.com", "actions": ["read", "create"]}]
    async with admin.post(GROUPS, json={"name": "PERM", "grants": grants}) as response:
        assert response.status in (201, 409)
    async with admin.post(
        f"{GROUPS}/PERM/deployments",
        json={"name": "perm-base", "route_prefix": "/webapi/perm-base", "upstreams": [upstream.url]},
    ) as response:
        assert response.status in (201, 409)
    session = await client_for(user)
    tag = user[0].split("@")[0]
    got = []
    async with session.post(GROUPS, json={"name": f"G-{tag}"}) as response:
        got.append(response.status)
    async with session.patch(f"{GROUPS}/PERM", json={"description": f"by {tag}"}) as response:
        got.append(response.status)
    async with session.delete("/api/webapi/deployments/perm-base") as response:
        got.append(response.status)
    async with session.post(
        f"{GROUPS}/PERM/deployments",
        json={"name": f"d-{tag}", "route_prefix": f"/webapi/d-{tag}", "upstreams": [upstream.url]},
    ) as response:
        got.append(response.status)
    async with session.post(f"{GROUPS}/PERM/recreate") as response:
        got.append(response.status)

    async def perm_listed() -> bool:  # a recreation (202) runs on after its answer: polled, not slept on
        return any(g["name"] == "PERM" for g in (await overview(session))["groups"])

    got.append(await eventually(perm_listed, timeout=10, what="PERM in the overview"))
    assert tuple(got) == expected


async def test_groups_a_user_cannot_read_are_not_disclosed(client_for):
    admin = await client_for(ADMIN_USER)
    async with admin.post(GROUPS, json={"name": "SECRET"}) as response:
        assert response.status in (201, 409)
    user = await client_for(NORMAL_USER)

    async def in_the_snapshot() -> bool:  # else the user's overview could predate the group
        return "SECRET" in [g["name"] for g in (await overview(admin))["groups"]]

    await eventually(in_the_snapshot, timeout=10, what="SECRET in the admin's overview")
    assert "SECRET" not in [g["name"] for g in (await overview(user))["groups"]]
    async with user.patch(f"{GROUPS}/SECRET", json={"description": "x"}) as response:
        assert response.status == 404
    async with user.get("/api/webapi/agents/unknown") as response:
        assert response.status == 403


@pytest.mark.parametrize(
    "body, status",
    [
        ({"name": "bad name"}, 400),
        ({"name": "G2", "grants": [{"subject": "nobody", "actions": ["read"]}]}, 400),
        ({"name": "DEFAULT"}, 409),
    ],
)
async def test_bad_group_definitions_get_clear_errors(client_for, body, status):
    admin = await client_for(ADMIN_USER)
    async with admin.post(GROUPS, json=body) as response:
        assert response.status == status
        assert response.content_type == "application/problem+json"


async def test_changes_need_a_session_and_json(groups_stack, client_for):
    async with aiohttp.ClientSession(groups_stack.base_url) as anonymous:
        async with anonymous.get(GROUPS) as response:
            assert response.status == 401
    admin = await client_for(ADMIN_USER)
    async with admin.post(
        GROUPS, data="name=FORM", headers={"Content-Type": "application/x-www-form-urlencoded"}
    ) as response:
        assert response.status == 400
