"""Request pipeline: access log -> problem rendering -> Manager-style gateway checks."""

from __future__ import annotations

import json
import logging
import time

from aiohttp import web

from devstack import verify
from devstack.auth import Handler, authenticate, is_auth_required
from devstack.problems import (
    INTERNAL_SERVER_ERROR,
    PROBLEM_CONTENT_TYPE,
    Problem,
    problem_for_http_exception,
    problem_response,
)
from devstack.state import RATE_LIMIT, RATE_LIMIT_WINDOW_SECONDS, audit_of

ACCESS_LOG = logging.getLogger("devstack.access")
ERROR_LOG = logging.getLogger("devstack.error")


@web.middleware
async def access_log_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """One JSON line per request; never includes headers, bodies or signatures."""
    audit = audit_of(request)  # created here so a method-override clone shares it
    started = time.perf_counter()
    status: int | None = None
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        record = {
            "method": request.method,
            "path": request.path,
            "status": status if status is not None else audit.status,
            "auth": audit.auth_method,
            "access_key": audit.user.access_key if audit.user else None,
            "ms": round((time.perf_counter() - started) * 1000, 2),
        }
        ACCESS_LOG.info(json.dumps(record))


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render every failure as the Manager's problem+json, unless headers already went out."""
    try:
        return await handler(request)
    except Problem as problem:
        return _render_unless_prepared(request, problem)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return _render_unless_prepared(request, problem_for_http_exception(exc), headers)
    except Exception:
        if audit_of(request).prepared:
            raise  # mid-stream failure (e.g. client went away): nothing left to send
        ERROR_LOG.exception("unhandled error in %s %s", request.method, request.path)
        return problem_response(Problem(INTERNAL_SERVER_ERROR))


def _render_unless_prepared(
    request: web.Request, problem: Problem, headers: dict[str, str] | None = None
) -> web.Response:
    if audit_of(request).prepared:
        raise problem
    return problem_response(problem, headers)


@web.middleware
async def gateway_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Method override, routing errors, API version, then auth: the Manager's order."""
    override = request.headers.get("X-Method-Override")
    if override:
        request, handler = await _reroute(request, override)
    routing_error = request.match_info.http_exception
    if routing_error is not None:
        raise routing_error
    verify.check_api_version(request.headers.get("X-BackendAI-Version"), request.headers.get("X-Sorna-Version"))
    if is_auth_required(handler):
        await authenticate(request)
    return await handler(request)


async def _reroute(request: web.Request, method: str) -> tuple[web.Request, Handler]:
    clone = request.clone(method=method)
    match_info = await request.app.router.resolve(clone)
    match_info.add_app(request.app)
    match_info.freeze()
    # aiohttp has no public way to attach a new route match to a cloned request.
    clone._match_info = match_info  # noqa: SLF001
    return clone, match_info.handler


async def stamp_response_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare hook: runs before headers go out, so it also covers streams/WS."""
    audit = audit_of(request)
    audit.prepared = True
    audit.status = response.status
    if audit.user is not None:
        response.headers["X-Devstack-Auth"] = audit.auth_method or ""
        response.headers["X-Devstack-Access-Key"] = audit.user.access_key
    if response.content_type == PROBLEM_CONTENT_TYPE:
        return  # the Manager's rate-limit stamping is skipped when an error is raised
    remaining = audit.rate_limit_remaining if audit.user is not None else RATE_LIMIT
    response.headers["X-RateLimit-Limit"] = str(RATE_LIMIT)
    response.headers["X-RateLimit-Remaining"] = str(remaining)
    response.headers["X-RateLimit-Window"] = str(RATE_LIMIT_WINDOW_SECONDS)
