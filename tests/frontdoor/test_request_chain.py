"""The front door's one middleware (frontdoor.request_chain): the order of its effects, as the six
layers it replaced had it.  A real aiohttp server; the guard is a stand-in that refuses or fails on
chosen paths, as ``Security.guard`` can."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from contract.hosts import HostPolicy
from frontdoor.observability import REQUEST_METRICS, RequestMetrics
from frontdoor.request_chain import RequestChain
from service_runtime.instruments import Instruments

OUR_HOST = "webui.example.com"
PROBLEM_BASE = "https://api.backend.ai/probs/"


class Stack:
    """A server with the chain in front of two catch-all routes, what its guard saw, what it counted."""

    def __init__(self):
        self.guarded: list[str] = []
        self.instruments = Instruments()

    async def guard(self, request: web.Request, handler):
        self.guarded.append(request.path)
        if request.path.endswith("/boom"):
            raise RuntimeError("a bug in the guard")
        if request.path.endswith("/moved"):
            raise web.HTTPFound("/elsewhere")
        return await handler(request)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[RequestChain(HostPolicy([OUR_HOST]), self.guard).handle])
        app[REQUEST_METRICS] = RequestMetrics(self.instruments)

        async def answer(request: web.Request) -> web.Response:
            return web.json_response({"ok": True})

        app.router.add_route("*", "/func/{path:.*}", answer)
        app.router.add_get("/ui/{page}", answer)
        return app

    def counted(self, status: int) -> float:
        return sum(
            sample.value
            for metric in self.instruments.registry.collect()
            for sample in metric.samples
            if sample.name == "backendai_api_request_count_total" and sample.labels["status_code"] == str(status)
        )


@pytest.fixture
async def stack(caplog):
    caplog.set_level(logging.INFO, logger="frontdoor.requests")
    made = Stack()
    async with TestServer(made.app(), host="127.0.0.1") as server:
        made.server = server
        yield made


def request_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "frontdoor.requests" and r.getMessage() == "request"]


async def fetch(stack: Stack, path: str, host: str = OUR_HOST, accept: str = "application/json"):
    headers = {"Host": host, "Accept": accept}
    async with aiohttp.ClientSession() as http:
        async with http.get(stack.server.make_url(path), headers=headers, allow_redirects=False) as answer:
            return answer.status, answer.headers, await answer.read()


@pytest.mark.parametrize(
    "path, problem",
    [("/func/boom", "internal-server-error"), ("/ui/boom", "internal-server-error")],
)
async def test_an_exception_in_the_guard_is_answered_and_logged_once_with_its_status(stack, caplog, path, problem):
    status, headers, body = await fetch(stack, path)
    assert status == 500 and json.loads(body)["type"] == PROBLEM_BASE + problem
    assert headers["X-Request-ID"]  # an answer of ours: it carries the request's id
    [line] = request_lines(caplog)
    assert (line.status_code, line.request_id) == (500, headers["X-Request-ID"])
    assert stack.counted(500) == 1
    assert [r for r in caplog.records if r.levelno == logging.ERROR and r.getMessage() == "unhandled error"]


async def test_a_refused_host_gets_its_line_its_metric_and_its_request_id(stack, caplog):
    status, headers, body = await fetch(stack, "/func/session", host="other.example.org")
    assert status == 421 and json.loads(body)["type"] == PROBLEM_BASE + "misdirected-request"
    assert stack.guarded == []  # nothing behind the Host check saw the request
    [line] = request_lines(caplog)
    assert (line.status_code, line.request_id) == (421, headers["X-Request-ID"])
    assert stack.counted(421) == 1


async def test_a_foreign_request_target_is_refused_before_the_guard_and_logged(stack, caplog):
    reader, writer = await asyncio.open_connection("127.0.0.1", stack.server.port)
    writer.write(f"GET http://other.example.org/func/session HTTP/1.1\r\nHost: {OUR_HOST}\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    assert head.startswith(b"HTTP/1.1 400 ") and b"X-Request-ID: " in head
    assert stack.guarded == []
    [line] = request_lines(caplog)
    assert line.status_code == 400


@pytest.mark.parametrize(
    "path, problem",
    [("/api/no-such-route", "url-not-found"), ("/no-such-route", "generic-not-found")],
)
async def test_an_api_path_and_a_page_path_get_their_own_layer_of_errors(stack, caplog, path, problem):
    status, headers, body = await fetch(stack, path)
    assert status == 404 and json.loads(body)["type"] == PROBLEM_BASE + problem
    [line] = request_lines(caplog)
    assert (line.status_code, line.request_id) == (404, headers["X-Request-ID"])


async def test_a_redirect_raised_inside_leaves_as_raised_and_is_logged_with_its_status(stack, caplog):
    status, headers, _ = await fetch(stack, "/ui/moved", accept="text/html")
    assert status == 302 and headers["Location"] == "/elsewhere"
    [line] = request_lines(caplog)
    assert line.status_code == 302
    assert stack.counted(302) == 1
