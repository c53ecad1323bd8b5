"""The stand-in's request pipeline (devstack.middleware): problems for routing errors, the API
version check, the method override."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from tests.devstack.manager_client import ADMIN, PASSWORD_AGE, assert_problem, host_of, sign

pytestmark = pytest.mark.asyncio
APP_OPTIONS = PASSWORD_AGE


@pytest.mark.parametrize(
    "method, path, status, slug",
    [
        ("GET", "/no/such/path", 404, "url-not-found"),
        ("DELETE", "/", 405, "method-not-allowed"),
        ("GET", "/auth/authorize", 405, "method-not-allowed"),
    ],
)
async def test_routing_errors_are_problems(client: TestClient, method: str, path: str, status: int, slug: str) -> None:
    await assert_problem(await client.request(method, path), status, slug)


async def test_unsupported_version_is_rejected_even_on_public_routes(client: TestClient) -> None:
    response = await client.get("/", headers={"X-BackendAI-Version": "v99.20990101"})
    await assert_problem(response, 400, "generic-bad-request", "Unsupported API version.")


async def test_method_override_reroutes_before_auth(client: TestClient) -> None:
    headers = sign(ADMIN, "GET", "/auth/role", host_of(client)) | {"X-Method-Override": "GET"}
    response = await client.post("/auth/role", headers=headers)
    assert response.status == 200, await response.text()
    assert (await response.json())["global_role"] == "superadmin"
