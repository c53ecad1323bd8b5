"""JSON bodies nested past the bound get a 400 problem, never a 500 with a traceback: every
front-door route that reads JSON, on a real front door."""

from __future__ import annotations

import json

import pytest

from tests.e2e.edge.conftest import PROBS, log_in
from tests.support.stack import ADMIN_USER

DEEP = "[" * 1000 + "]" * 1000


@pytest.mark.parametrize(
    "path, logged_in, body",
    [
        ("/server/login", False, '{"username": "a@b.c", "password": "x", "extra": %s}' % DEEP),
        ("/server/login", False, DEEP),
        ("/api/auth/login", False, '{"username": %s}' % DEEP),
        ("/server/login", False, '{"a": %s}' % ("[" * 40 + "]" * 40)),  # past the bound, not the stack
        ("/server/update-password-no-auth", False, '{"username": %s}' % DEEP),
        ("/server/token-login", False, '{"sToken": %s}' % DEEP),
        ("/api/webapi/groups", True, '{"name": "G", "description": %s}' % DEEP),
        ("/api/webapi/groups/DEFAULT/deployments", True, '{"name": %s}' % DEEP),
    ],
)
async def test_deeply_nested_json_is_a_400_problem(edge_stack, edge_client, path, logged_in, body):
    if logged_in:
        await log_in(edge_client, ADMIN_USER)
    headers = {"Content-Type": "application/json"}
    async with edge_client.post(path, data=body.encode(), headers=headers) as response:
        text = await response.text()
        assert response.status == 400, text
        assert response.content_type == "application/problem+json"
        assert json.loads(text)["type"] == PROBS + "invalid-api-params"
        assert "Traceback" not in text
