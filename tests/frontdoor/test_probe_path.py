"""Backend.AI's api.health_check_probe_path / probe_timeout: the Manager's probe asks that path."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdoor.endpoint_probe import probe


async def test_probe_asks_the_configured_path_within_the_timeout():
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(request.path)
        if request.path == "/slow":
            await asyncio.sleep(1.0)
        return web.Response(status=503 if request.path == "/health/down" else 200)

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    async with TestServer(app) as server, aiohttp.ClientSession() as http:
        url = str(server.make_url("")).rstrip("/")
        assert await probe(http, url, 2.0, "/health/readyz")
        assert not await probe(http, url, 2.0, "/health/down")
        assert not await probe(http, url, 0.2, "/slow")
        assert await probe(http, url)
    assert seen[:2] == ["/health/readyz", "/health/down"] and seen[-1] == "/"
