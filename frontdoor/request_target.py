"""Only requests for this host are served: the request chain (``frontdoor.request_chain``) refuses absolute-form
request targets (``GET http://other-host/... HTTP/1.1``) whose authority is not our ``Host`` header.

Browsers send origin-form targets (``/path?query``); an absolute-form one comes from a raw client or
a forward proxy and asks us to speak for another host.  The rule is ``foreign_target_refusal`` in
``frontdoor/upstream.py`` (no I/O); the proxy itself builds upstream URLs from the routed path only.
"""

from __future__ import annotations

import logging

from aiohttp import web

from frontdoor import problems
from frontdoor.upstream import foreign_target_refusal

log = logging.getLogger(__name__)


def target_refusal(request: web.Request) -> web.Response | None:
    """The answer to an absolute-form target naming another host (logged), or None: it is ours."""
    reason = foreign_target_refusal(request.raw_path, request.headers.get("Host"))
    if reason is None:
        return None
    log.warning(
        "refused a request target",
        extra={
            "event": "security_violation",
            "reason": "foreign_target",
            "detail": reason,
            "target": request.raw_path[:200],
        },
    )
    return problems.bad_request(f"Refused request target: {reason}.")
