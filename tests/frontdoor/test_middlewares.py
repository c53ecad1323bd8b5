"""The request log line (frontdoor.middlewares): a tus upload's token, a JWT the Manager signed, stays out."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from frontdoor.observability import REQUEST_METRICS, TRACE_ID_KEY, USER_ID_KEY, RequestMetrics
from frontdoor.request_chain import request_log_middleware
from service_runtime.instruments import Instruments
from service_runtime.jsonlog import setup_logging

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


async def test_the_request_line_is_written_without_a_log_record(monkeypatch):
    """Under the processes' own logging set-up the line skips the logging module's record (its cost)."""

    async def answer(request: web.Request) -> web.Response:
        return web.Response()

    app = web.Application(middlewares=[request_log_middleware])
    app[REQUEST_METRICS] = RequestMetrics(Instruments())
    app.router.add_get("/func/x", answer)
    made: list[tuple] = []
    monkeypatch.setattr(logging.getLogger("frontdoor.requests"), "makeRecord", lambda *args, **kw: made.append(args))
    root = logging.getLogger()
    handlers, level, stream = root.handlers[:], root.level, io.StringIO()
    set_up_logging_to(stream)
    try:
        async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
            async with http.get(server.make_url("/func/x")) as answered:
                assert answered.status == 200
        root.handlers[0].flush()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    assert made == [] and '"logger":"frontdoor.requests","msg":"request"' in stream.getvalue()


def set_up_logging_to(stream: io.StringIO) -> None:
    stderr, sys.stderr = sys.stderr, stream  # pytest's capture swaps sys.stderr per phase: set it here
    try:
        setup_logging("frontdoor")
    finally:
        sys.stderr = stderr


async def test_the_request_lines_are_exactly_as_before():
    """A golden test of the request line: its keys, their order and values (time and duration aside)."""

    async def answer(request: web.Request) -> web.Response:
        request[USER_ID_KEY] = "u@example.com"
        if request.method == "PATCH":
            request[TRACE_ID_KEY] = "4bf92f3577b34da6a3ce929d0e0e4736"
        if request.path.endswith("/missing"):
            raise web.HTTPNotFound()
        return web.Response(status=204 if request.method == "PATCH" else 200)

    app = web.Application(middlewares=[request_log_middleware])
    app[REQUEST_METRICS] = RequestMetrics(Instruments())
    app.router.add_route("*", "/func/{path:.*}", answer)
    app.router.add_get("/server/login-check", answer)
    root = logging.getLogger()
    handlers, level, stream = root.handlers[:], root.level, io.StringIO()
    set_up_logging_to(stream)
    try:
        async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
            for method, path, request_id in [
                ("GET", "/func/server/login-check", "0123456789abcdef"),
                ("PATCH", f"/func/folders/_/tus/upload/{UPLOAD_TOKEN}", "fedcba9876543210"),
                ("GET", "/func/missing", "00112233445566778899aabb"),
                ("POST", "/server/login-check", "aabbccddeeff0011"),
                ("GET", "/no-such-route", "not a valid id!"),
            ]:
                async with http.request(method, server.make_url(path), headers={"X-Request-ID": request_id}):
                    pass
        root.handlers[0].flush()
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    lines = [line for line in stream.getvalue().splitlines() if '"logger":"frontdoor.requests"' in line]
    lines = [
        re.sub(r'"duration_ms":\d+(\.\d+)?', '"duration_ms":D', re.sub(r'^\{"ts":[\d.]+,', '{"ts":T,', line))
        for line in lines
    ]
    generated = json.loads(stream.getvalue().splitlines()[-1])["request_id"]  # the invalid id was replaced
    head = f'{{"ts":T,"level":"info","process":"frontdoor","pid":{os.getpid()},"logger":"frontdoor.requests","msg":"request",'
    assert lines == [
        head
        + '"event":"proxy_request","request_id":"0123456789abcdef","method":"GET","path":"/func/server/login-check",'
        '"status":"success","status_code":200,"user_id":"u@example.com","duration_ms":D}',
        head + '"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","event":"proxy_request","request_id":"fedcba9876543210",'
        '"method":"PATCH","path":"/func/folders/_/tus/upload/<token>","status":"success","status_code":204,'
        '"user_id":"u@example.com","duration_ms":D}',
        head + '"event":"proxy_request","request_id":"00112233445566778899aabb","method":"GET","path":"/func/missing",'
        '"status":"failure","status_code":404,"user_id":"u@example.com","duration_ms":D}',
        head + '"event":"http_request","request_id":"aabbccddeeff0011","method":"POST","path":"/server/login-check",'
        '"status":"failure","status_code":405,"user_id":null,"duration_ms":D}',
        head + f'"event":"http_request","request_id":"{generated}","method":"GET","path":"/no-such-route",'
        '"status":"failure","status_code":404,"user_id":null,"duration_ms":D}',
    ]
    assert re.fullmatch(r"[0-9a-f]{16}", generated)
