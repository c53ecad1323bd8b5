"""Cross-cutting request handling: request ids, structured request logs, errors as problem+json."""

from __future__ import annotations

import logging
import secrets
import time

from aiohttp import web

from frontdoor import problems

log = logging.getLogger("frontdoor.requests")
API_PREFIXES = ("/func/", "/server/", "/api/")


@web.middleware
async def request_log_middleware(request: web.Request, handler):
    request_id = request.headers.get("X-Request-ID", "")
    if not (0 < len(request_id) <= 64 and request_id.replace("-", "").isalnum()):
        request_id = secrets.token_hex(8)
    request["request_id"] = request_id
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-ID"] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        log.info(
            "request",
            extra={
                "event": "proxy_request" if request.path.startswith("/func/") else "http_request",
                "request_id": request_id,
                "method": request.method,
                "path": request.path,
                "status": status,
                "user_id": request.get("user_id"),
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )


@web.middleware
async def error_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not request.path.startswith(API_PREFIXES) or exc.status < 400:
            raise
        return problems.problem(exc.status, _slug(exc.status), exc.reason)
    except Exception:
        log.exception("unhandled error", extra={"event": "internal_error", "path": request.path})
        return problems.problem(500, "internal-server-error", "Something has gone wrong.")


def _slug(status: int) -> str:
    return {
        404: "url-not-found",
        405: "method-not-allowed",
        413: "request-entity-too-large",
    }.get(status, "generic-bad-request" if status < 500 else "internal-server-error")
