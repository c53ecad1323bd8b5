"""The request log line (frontdoor.middlewares): a tus upload's token, a JWT the Manager signed, stays out."""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdoor.middlewares import request_log_middleware
from frontdoor.observability import REQUEST_METRICS, RequestMetrics
from service_runtime.instruments import Instruments

UPLOAD_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzZXNzaW9uX2lkIjoiYWJjIn0.c2lnbmVkLWJ5LXRoZS1tYW5hZ2Vy"


async def test_the_request_line_of_a_tus_upload_leaves_its_token_out(caplog):
    async def upload(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app = web.Application(middlewares=[request_log_middleware])
    app[REQUEST_METRICS] = RequestMetrics(Instruments())
    app.router.add_route("*", "/func/{path:.*}", upload)
    caplog.set_level(logging.INFO, logger="frontdoor.requests")
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        async with http.patch(server.make_url(f"/func/folders/_/tus/upload/{UPLOAD_TOKEN}"), data=b"0") as answer:
            assert answer.status == 204
    [line] = [record for record in caplog.records if record.name == "frontdoor.requests"]
    assert line.path == "/func/folders/_/tus/upload/<token>" and line.status_code == 204
    assert UPLOAD_TOKEN not in caplog.text and "eyJ" not in str(vars(line))
