"""Cross-cutting request handling: request ids, structured request logs and metrics, errors as problem+json."""

from __future__ import annotations

import asyncio
import contextvars
import logging

from aiohttp import web

from contract.requests import valid_request_id
from frontdoor import problems
from frontdoor.observability import (
    IN_FLIGHT,
    REQUEST_ID_KEY,
    REQUEST_METRICS,
    TRACE_ID_KEY,
    USER_ID_KEY,
    new_request_id,
)
from frontdoor.ops import LIFECYCLE
from frontdoor.problems import API_PREFIXES
from frontdoor.special_routes import path_for_logs
from service_runtime.invalidation import StoreUnavailable
from service_runtime.jsonlog import REQUEST_ID
from service_runtime.linelog import LineLogger

log = logging.getLogger("frontdoor.requests")
request_lines = LineLogger(log)  # the same line as ``log.info``, without a LogRecord when it can
CLIENT_CLOSED = 499  # nginx's status for a request the client abandoned


def open_request(request: web.Request) -> tuple[str, contextvars.Token]:
    """The request's id (the client's when valid, else a fresh one), set for every line logged while serving it."""
    request_id = request.headers.get("X-Request-ID", "")
    if not (request_id and valid_request_id(request_id)):
        request_id = new_request_id()
    request[REQUEST_ID_KEY] = request_id
    return request_id, REQUEST_ID.set(request_id)


def mark_answer(request: web.Request, response: web.StreamResponse, request_id: str) -> None:
    """What every returned answer carries: its request id, and ``Connection: close`` while draining."""
    response.headers["X-Request-ID"] = request_id
    lifecycle = request.app.get(LIFECYCLE)
    if lifecycle is not None and lifecycle.draining and not response.prepared:
        response.force_close()  # draining: this connection ends with this answer


class ClosingRequests:
    """What a request does once it is answered: the in-flight count, the metrics and the log line
    (in that order), in the loop turn after the one that wrote the answer.

    aiohttp writes a whole answer after the middleware returns, in the same task step; deferred by one
    ``call_soon``, this work (~50 µs of a front door at one connection) runs while the answer travels
    to the browser instead of before it leaves.  The requests closed in one loop turn share one
    callback.  The drain waits for the in-flight count, so a draining worker ends only after its
    lines are written; ``flush`` writes what is queued at once (the stop path)."""

    def __init__(self) -> None:
        self._queued: list[tuple] = []
        self._handle: asyncio.Handle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def later(self, *closed) -> None:
        """``close_request(*closed)`` in the next loop turn (its parameters are the one list of them)."""
        self._queued.append(closed)
        loop = asyncio.get_running_loop()
        if self._handle is None or self._loop is not loop:  # (a test's loop may end with one scheduled)
            self._loop, self._handle = loop, loop.call_soon(self.flush)

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        queued, self._queued = self._queued, []
        for closed in queued:
            try:
                close_request(*closed)
            except Exception:  # one request's failure must not lose the others' lines
                log.exception("request close failed", extra={"event": "internal_error"})

    @property
    def pending(self) -> int:
        return len(self._queued)


def close_request(
    request: web.Request,
    request_id: str,
    template: str | None,
    kind: str | None,
    status: int,
    duration: float,
    response: web.StreamResponse | None,
) -> None:
    """The in-flight count, the metrics and the log line of a finished request (in that order)."""
    IN_FLIGHT.leave(kind)
    request.app[REQUEST_METRICS].record(request.method, template, request.path, status, duration, response)
    if log.isEnabledFor(logging.INFO):  # at WARNING, no line: nothing of it is built either
        request_lines.info("request", _request_line(request, request_id, kind, status, duration))


CLOSING = ClosingRequests()  # one front-door worker, one loop: process-wide, as IN_FLIGHT is


def _request_line(request: web.Request, request_id: str, kind: str | None, status: int, duration: float) -> dict:
    """The request line's fields, in the line's order (a trace id first when the request has one)."""
    line = {
        "event": "proxy_request" if kind in ("proxy_api", "proxy_websocket") else "http_request",
        "request_id": request_id,
        "method": request.method,
        "path": path_for_logs(request.path),
        "status": "success" if status < 400 else "failure",
        "status_code": status,
        "user_id": request.get(USER_ID_KEY),
        "duration_ms": round(duration * 1000, 2),
    }
    trace_id = request.get(TRACE_ID_KEY)  # set by a traced proxy route ([otel] on)
    if trace_id:
        line = {"trace_id": trace_id, **line}  # first in the line: a copy only when tracing
    return line


def error_answer(request: web.Request, exc: Exception) -> web.Response:
    """problem+json for an exception out of a handler (logged when unexpected); an ``HTTPException``
    below 400, or any outside the API paths, is raised again.  Call it in the ``except`` clause."""
    if isinstance(exc, web.HTTPException):
        if not request.path.startswith(API_PREFIXES) or exc.status < 400:
            raise exc
        return problems.problem(exc.status, _slug(exc.status), exc.reason)
    if isinstance(exc, StoreUnavailable):  # Redis away: logged once per outage where it was noticed
        return problems.session_store_down()
    log.exception("unhandled error", extra={"event": "internal_error", "path": path_for_logs(request.path)})
    return problems.problem(500, "internal-server-error", "Something has gone wrong.")


def _slug(status: int) -> str:
    return {
        404: "url-not-found",
        405: "method-not-allowed",
        413: "request-entity-too-large",
    }.get(status, "generic-bad-request" if status < 500 else "internal-server-error")
