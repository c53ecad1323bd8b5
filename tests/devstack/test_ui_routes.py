"""The REST calls the official Web UI makes right after login (devstack.ui_routes)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from devstack.cluster import STORAGE_HOST, project_id
from tests.devstack.manager_client import USER, assert_problem, signed

PROJECT_ID = project_id("default", "default")


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
