"""Errors as ``application/problem+json``, with Backend.AI's type URIs so its Web UI understands them."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

PROBLEM_BASE = "https://api.backend.ai/probs/"
# The API namespaces: their errors are problem+json, never HTML pages or the SPA's index.html.
API_PREFIXES = ("/func/", "/server/", "/api/", "/webapi/", "/pipeline/")
PROXIED_PREFIXES = ("/func/", "/webapi/", "/pipeline/")  # forwarded upstream (signed, or not at all)
PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem(status: int, slug: str, title: str, **extra: Any) -> web.Response:
    body = {"type": PROBLEM_BASE + slug, "title": title, **extra}
    return web.Response(status=status, text=json.dumps(body), content_type=PROBLEM_CONTENT_TYPE)


async def answered(answer: web.StreamResponse) -> web.StreamResponse:
    """An answer made already, as the awaitable of a function that returns its callee's coroutine
    rather than awaiting it (``Security.guard``, ``DeploymentProxy._proxy``)."""
    return answer


def json_body_response(status: int, body: dict[str, Any]) -> web.Response:
    """A JSON reply; problem documents (those with a ``type``) get the problem media type."""
    content_type = PROBLEM_CONTENT_TYPE if "type" in body and "title" in body else "application/json"
    return web.Response(status=status, text=json.dumps(body), content_type=content_type)


def unauthorized() -> web.Response:
    return problem(401, "auth-failed", "Unauthorized access")


def bad_gateway(details: str | None = None) -> web.Response:
    extra = {"details": details} if details else {}
    return problem(502, "bad-gateway", "The proxy target server is inaccessible.", **extra)


def gateway_timeout() -> web.Response:
    return problem(504, "gateway-timeout", "The proxy target server did not answer in time.")


def no_signer() -> web.Response:
    return problem(503, "webserver/signer-unavailable", "No request signer is available.")


def session_service_down() -> web.Response:
    return problem(503, "service-unavailable", "The session service is unavailable.")


# Seconds a client is asked to wait while the session store is away (a Redis restart takes a few).
STORE_RETRY_AFTER = "2"


def session_store_down() -> web.Response:
    response = problem(
        503,
        "service-unavailable",
        "The session store is unavailable.",
        details="Sessions are kept; try again in a few seconds.",
    )
    response.headers["Retry-After"] = STORE_RETRY_AFTER
    return response


def bad_request(title: str, slug: str = "generic-bad-request", **extra: Any) -> web.Response:
    return problem(400, slug, title, **extra)
