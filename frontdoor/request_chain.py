"""The front door's one middleware: what every request goes through before its route's handler.

In order, outermost first, as six middleware layers did before (each layer cost a coroutine, a
``functools.partial`` and a frame that every resumption of the handler passes through again):

1. the request id, the in-flight count, and at the end the metrics and the log line
   (``middlewares``), whatever happens inside, a client gone away being a 499; those three once the
   answer is written (``middlewares.ClosingRequests``);
2. the Host check (``host_check``): nothing behind it sees a Host that is not ours;
3. the request target check (``request_target``);
4. errors of everything inside as answers: problem+json on the API paths (``middlewares.error_answer``),
   a readable page elsewhere (``error_pages``), and problem+json if making that page fails;
5. the browser-facing protections (``Security.guard``: request policies, CORS preflight, CSRF, the
   Manager's auth endpoints, rate limits), then the route's handler.

A refusal of 2 or 3 is an answer like any other: it gets its request id, its line and its metrics.
"""

from __future__ import annotations

import asyncio
import time
from typing import Awaitable, Callable

from aiohttp import web

from contract.hosts import HostPolicy
from frontdoor.error_pages import page_error_answer
from frontdoor.host_check import host_refusal
from frontdoor.middlewares import CLIENT_CLOSED, CLOSING, error_answer, mark_answer, open_request
from frontdoor.observability import IN_FLIGHT, handler_kind, request_template
from frontdoor.problems import API_PREFIXES
from frontdoor.request_target import target_refusal
from frontdoor.websocket import wants_websocket
from service_runtime.jsonlog import REQUEST_ID

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Guard = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]


class RequestChain:
    """``app.middlewares = [RequestChain(hosts, security.guard).handle]``.

    Without ``hosts`` there are no Host or target checks; without ``guard`` the handler runs bare and
    its exceptions leave as raised (``request_log_middleware``: the line alone, for tools and tests)."""

    def __init__(self, hosts: HostPolicy | None = None, guard: Guard | None = None):
        self._hosts = hosts
        self._guard = guard

    @web.middleware
    async def handle(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id, trace = open_request(request)
        template = request_template(request)
        kind = handler_kind(template, request.path, wants_websocket(request))
        IN_FLIGHT.enter(kind)
        started = time.perf_counter()
        status, response = 500, None
        try:
            if self._hosts is not None:
                response = host_refusal(self._hosts, request)
                if response is None:
                    response = target_refusal(request)
            if response is None and self._guard is None:
                response = await handler(request)
            elif response is None:
                try:
                    response = await self._guard(request, handler)
                except Exception as exc:
                    response = answer_for(request, exc)
            status = response.status
            mark_answer(request, response, request_id)
            return response
        except web.HTTPException as exc:  # below 400 (a redirect): aiohttp answers with it
            status, response = exc.status, exc
            raise
        except asyncio.CancelledError:
            status = CLIENT_CLOSED  # the browser went away mid-request
            raise
        finally:
            REQUEST_ID.reset(trace)  # in the request's own context, where it was set
            # The count, metrics and line once aiohttp has written the answer (it does after this returns).
            CLOSING.later(request, request_id, template, kind, status, time.perf_counter() - started, response)


# The request's id, line, metrics and in-flight count alone, around a bare handler.
request_log_middleware = RequestChain().handle


def answer_for(request: web.Request, exc: Exception) -> web.StreamResponse:
    """The answer to an exception out of the guard or the handler; call it in the ``except`` clause.

    Outside the API paths the page comes first; an exception while making it is answered as on the
    API paths (problem+json), as the two error layers nested did."""
    if request.path.startswith(API_PREFIXES):
        return error_answer(request, exc)
    try:
        return page_error_answer(request, exc)
    except Exception as escaped:
        return error_answer(request, escaped)
