"""The first check of every request: is its ``Host`` one of ours (``contract.hosts``)?

Everything behind it may use ``request.host`` (the ``apiEndpoint`` of ``/config.toml``, the login
body's decoding key, the CSRF check's own origin, the session's forwarded host) knowing it is a
configured public host or loopback.  A refusal never repeats the Host it refused.
"""

from __future__ import annotations

import logging

from aiohttp import hdrs, web

from contract.hosts import HostPolicy
from frontdoor import problems
from frontdoor.error_pages import error_response
from frontdoor.problems import API_PREFIXES
from frontdoor.special_routes import path_for_logs

log = logging.getLogger(__name__)
TITLES = {
    400: ("generic-bad-request", "Bad Request", "The request has no single valid Host header."),
    421: ("misdirected-request", "Misdirected Request", "This server does not answer for that host name."),
}


def refusal(request: web.Request, status: int) -> web.Response:
    """problem+json on the API paths; elsewhere a page for browsers and problem+json for the rest."""
    if request.path.startswith(API_PREFIXES):
        slug, title, details = TITLES[status]
        response = problems.problem(status, slug, title, details=details)
    else:
        response = error_response(request, status)
    response.headers["Vary"] = "Host"
    return response


def host_refusal(policy: HostPolicy, request: web.Request) -> web.Response | None:
    """The answer to a request whose ``Host`` is not one of ours (logged), or None: it is ours."""
    status = policy.verdict(request.headers.getall(hdrs.HOST, []))
    if status is None:
        return None
    log.warning(
        "refused a request for another host",
        extra={
            "event": "security_violation",
            "reason": "host",
            "status_code": status,
            "path": path_for_logs(request.path)[:200],
            "host": request.headers.get(hdrs.HOST, "")[:200],
        },
    )
    return refusal(request, status)
