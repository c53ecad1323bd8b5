"""The front door's one middleware (frontdoor.request_chain): the order of its effects, as the six
layers it replaced had it.  A real aiohttp server; the guard is a stand-in that refuses or fails on
chosen paths, as ``Security.guard`` can."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from contract.hosts import HostPolicy
from frontdoor.middlewares import CLOSING
from frontdoor.observability import IN_FLIGHT, REQUEST_METRICS, RequestMetrics
from frontdoor.request_chain import RequestChain
from service_runtime.instruments import Instruments
from tests.support.polling import eventually

OUR_HOST = "webui.example.com"
PROBLEM_BASE = "https://api.backend.ai/probs/"


class Stack:
    """A server with the chain in front of two catch-all routes, what its guard saw, what it counted."""

    def __init__(self):
        self.guarded: list[str] = []
        self.instruments = Instruments()
        self.hanging = asyncio.Event()

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

        async def streamed(request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(headers={"Content-Type": "text/plain"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            await response.write(b"streamed")
            await response.write_eof()
            return response

        async def hanging(request: web.Request) -> web.Response:
            self.hanging.set()
            await asyncio.Event().wait()  # until the server's cleanup cancels it
            raise AssertionError("never answered")

        app.router.add_get("/func/stream", streamed)
        app.router.add_get("/func/hang", hanging)
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


class AnswerSeen:
    """A client in a thread of its own reads one answer whole from a real socket; ``seen`` is set then.
    The server's loop may be blocked meanwhile: the kernel delivers what was written all the same."""

    def __init__(self, port: int, target: str, host: str = OUR_HOST):
        self.seen = threading.Event()
        self.answer = b""
        self._request = f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n\r\n".encode()
        self._socket = socket.create_connection(("127.0.0.1", port))
        self._thread = threading.Thread(target=self._read, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _read(self) -> None:
        self._socket.sendall(self._request)
        while not self._complete():
            chunk = self._socket.recv(65536)
            if not chunk:
                break
            self.answer += chunk
        self.seen.set()

    def _complete(self) -> bool:
        head, found, body = self.answer.partition(b"\r\n\r\n")
        if not found:
            return False
        if b"transfer-encoding: chunked" in head.lower():
            return body.endswith(b"0\r\n\r\n")
        length = [line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
        return bool(length) and len(body) >= int(length[0].split(b":")[1])

    def close(self) -> None:
        self._thread.join(timeout=5)
        self._socket.close()


class LineWatch(logging.Handler):
    """At the request line's emission, whether the client had the whole answer already.  Blocks the
    server's loop for up to a second waiting for it: were the line written before the answer, the
    answer could not leave meanwhile and the wait runs out."""

    def __init__(self, client: AnswerSeen):
        super().__init__()
        self.client = client
        self.answer_first: list[bool] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "request":
            self.answer_first.append(self.client.seen.wait(timeout=1.0))


@pytest.mark.parametrize(
    "target, host, status",
    [
        ("/func/session", OUR_HOST, 200),
        ("/func/stream", OUR_HOST, 200),  # written by the handler itself
        ("/func/session", "other.example.org", 421),  # refused by the chain
        ("/func/boom", OUR_HOST, 500),  # a failing guard
    ],
)
async def test_the_answer_reaches_the_client_before_its_line_and_metrics_are_written(stack, target, host, status):
    client = AnswerSeen(stack.server.port, target, host)
    watch = LineWatch(client)
    logger = logging.getLogger("frontdoor.requests")
    logger.addHandler(watch)
    try:
        client.start()
        await eventually(lambda: watch.answer_first, timeout=5, what="the request line")
    finally:
        logger.removeHandler(watch)
        client.close()
    assert client.answer.startswith(f"HTTP/1.1 {status} ".encode())
    assert watch.answer_first == [True]
    assert stack.counted(status) == 1 and IN_FLIGHT.total == 0


async def test_the_count_metrics_and_line_wait_for_the_next_loop_turn_and_flush_writes_them_at_once(caplog):
    """Seen from a middleware outside the chain, in the task step the chain returned in: queued, not
    written; ``CLOSING.flush`` (the stop path's) writes them then."""
    caplog.set_level(logging.INFO, logger="frontdoor.requests")
    made = Stack()
    seen: list[tuple] = []

    @web.middleware
    async def outside(request: web.Request, handler):
        response = await handler(request)
        seen.append((CLOSING.pending, IN_FLIGHT.total, len(request_lines(caplog)), made.counted(200)))
        CLOSING.flush()
        seen.append((CLOSING.pending, IN_FLIGHT.total, len(request_lines(caplog)), made.counted(200)))
        return response

    app = made.app()
    app.middlewares.insert(0, outside)
    async with TestServer(app, host="127.0.0.1") as server:
        made.server = server
        status, headers, _ = await fetch(made, "/func/session")
    assert status == 200 and seen == [(1, 1, 0, 0), (0, 0, 1, 1)]
    [line] = request_lines(caplog)
    assert line.request_id == headers["X-Request-ID"]


async def test_a_request_cut_by_the_server_cleanup_is_counted_and_logged_as_499(caplog):
    caplog.set_level(logging.INFO, logger="frontdoor.requests")
    made = Stack()
    server = TestServer(made.app(), host="127.0.0.1")
    await server.start_server(shutdown_timeout=0.2)  # the drain's FINAL_GRACE, shorter
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET /func/hang HTTP/1.1\r\nHost: {OUR_HOST}\r\n\r\n".encode())
    await writer.drain()
    await asyncio.wait_for(made.hanging.wait(), timeout=5)
    await server.close()  # the runner's cleanup cancels the handler, as the drain's does at its end
    CLOSING.flush()  # what the stop path does next
    writer.close()
    [line] = request_lines(caplog)
    assert line.status_code == 499 and made.counted(499) == 1 and IN_FLIGHT.total == 0
