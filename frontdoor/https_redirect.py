"""The optional plain-HTTP listener that sends every browser to the HTTPS one (308, method kept).

Each front-door worker runs it beside its HTTPS listener on ``[security] http_redirect_port``
(SO_REUSEPORT, like the main port).  It serves nothing else: no cookie is read or set over HTTP.
"""

from __future__ import annotations

import re

from aiohttp import web

from contract.config import Config
from frontdoor.header_deadline import HeaderDeadlines
from frontdoor.security_headers import without_server_header

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST_RE = re.compile(rf"^(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9a-f:.]+\])$")


def https_location(host_header: str | None, path_qs: str, https_port: int) -> str | None:
    """Where a plain-HTTP request should go, or None when its Host header is not a host name."""
    if not host_header:
        return None
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[: host.find("]") + 1] if "]" in host else ""
    else:
        host = host.rsplit(":", 1)[0] if ":" in host else host
    if not _HOST_RE.match(host) or not path_qs.startswith("/"):
        return None
    port = "" if https_port == 443 else f":{https_port}"
    return f"https://{host}{port}{path_qs}"


def redirect_app(https_port: int) -> web.Application:
    async def redirect(request: web.Request) -> web.Response:
        location = https_location(request.headers.get("Host"), request.raw_path, https_port)
        if location is None:
            return web.Response(status=400, text="Bad Request: no usable Host header.\n")
        return web.Response(status=308, headers={"Location": location})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    without_server_header(app)
    return app


def redirect_listener(config: Config):
    """A cleanup context running the redirect listener for as long as the main application runs."""

    async def context(_app: web.Application):
        # The same connection bounds as the main listener: a plain-HTTP port is as easy to hold open.
        runner = web.AppRunner(redirect_app(config.service.port), access_log=None,
                               keepalive_timeout=config.security.keepalive_timeout)
        await runner.setup()
        HeaderDeadlines(lambda: config.security.header_read_timeout).install(runner.server)
        site = web.TCPSite(runner, config.service.ip, config.security.http_redirect_port, reuse_port=True)
        await site.start()
        try:
            yield
        finally:
            await runner.cleanup()

    return context
