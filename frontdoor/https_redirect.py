"""The optional plain-HTTP listener that sends every browser to the HTTPS one (308, method kept).

Each front-door worker runs it beside its HTTPS listener on ``[security] http_redirect_port``
(SO_REUSEPORT, like the main port).  It serves nothing else: no cookie is read or set over HTTP.
It redirects only to hosts the front door answers (``contract.hosts``): a request naming another
host gets 421 (400 for a malformed Host), so it cannot be made to send browsers elsewhere.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from contract.config import Config
from contract.hosts import HostPolicy, parse_host
from frontdoor.header_deadline import HeaderDeadlines
from frontdoor.security_headers import without_server_header
from frontdoor.shared_port import SharedPortSite


def https_location(host_header: str | None, path_qs: str, https_port: int, policy: HostPolicy) -> str | None:
    """Where a plain-HTTP request should go, or None when its Host header is not one of ours."""
    parsed = parse_host(host_header)
    if parsed is None or not policy.accepts(parsed) or not path_qs.startswith("/"):
        return None
    port = "" if https_port == 443 else f":{https_port}"
    return f"https://{parsed.host}{port}{path_qs}"


def redirect_app(https_port: int, policy: HostPolicy) -> web.Application:
    async def redirect(request: web.Request) -> web.Response:
        status = policy.verdict(request.headers.getall(hdrs.HOST, []))
        location = https_location(request.headers.get(hdrs.HOST), request.raw_path, https_port, policy)
        if status == 421:
            return web.Response(
                status=421,
                text="Misdirected Request: this server does not answer for that host.\n",
                headers={"Vary": "Host"},
            )
        if status is not None or location is None:
            return web.Response(status=400, text="Bad Request: no usable Host header.\n", headers={"Vary": "Host"})
        return web.Response(status=308, headers={"Location": location, "Vary": "Host"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", redirect)
    without_server_header(app)
    return app


def redirect_listener(config: Config):
    """A cleanup context running the redirect listener for as long as the main application runs."""

    async def context(_app: web.Application):
        # The same connection bounds as the main listener: a plain-HTTP port is as easy to hold open.
        runner = web.AppRunner(
            redirect_app(config.service.port, HostPolicy.for_config(config)),
            access_log=None,
            keepalive_timeout=config.security.keepalive_timeout,
        )
        await runner.setup()
        HeaderDeadlines(lambda: config.security.header_read_timeout).install(runner.server)
        site = SharedPortSite(runner, config.service.ip, config.security.http_redirect_port)
        await site.start()
        try:
            yield
        finally:
            await site.leave()
            await runner.cleanup()

    return context
