"""Assembly of one front-door worker: its clients, its routes, and the background followers."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import aiohttp
import zmq.asyncio
from aiohttp import web

from contract.host_layout import ZMQ_KEY_FILE, session_daemon_endpoint
from contract.hosts import HostPolicy
from contract.session_commands import Touch
from frontdoor.admin_routes import AdminRoutes
from frontdoor.auth_routes import AuthRoutes
from frontdoor.context import FrontDoor
from frontdoor.daemon_client import SessionDaemonClient
from frontdoor.endpoint_probe import probe_client, probe_forever
from frontdoor.jwks import jwks_for
from frontdoor.lean_client import LeanClient
from frontdoor.observability import REQUEST_METRICS, RequestMetrics
from frontdoor.ops import WS_RELAY, register_stats
from frontdoor.pages import Pages
from frontdoor.proxy import DeploymentProxy
from frontdoor.request_chain import RequestChain
from frontdoor.security import install_security, parser_limits
from frontdoor.sessions import SessionReader
from frontdoor.signer_pool import SignerPool
from frontdoor.signup import SignupRoute
from frontdoor.static import StaticFiles
from frontdoor.trusted_proxies import TrustedProxies
from frontdoor.upstream_exchange import PROXIED_SKIP_AUTO_HEADERS
from frontdoor.webapi_routes import WebApiRoutes
from frontdoor.websocket import EXACT_TIMERS_UP_TO, WebSocketRelay
from frontdoor.webui_config import WebUiConfig
from service_runtime.background import run_in_background
from service_runtime.http1 import client_tls
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import load_shared_key
from service_runtime.redis_client import redis_client
from service_runtime.reload import ReloadHook
from service_runtime.settings import Settings
from service_runtime.start_cleanup import StartResources
from service_runtime.tracing import NO_TRACING, NoTracing
from service_runtime.webapi_watch import GroupsWatcher

FRONT_DOOR = web.AppKey("front_door", FrontDoor)
STOP_GRACE = 5.0  # seconds background followers get to finish after cancellation
MAX_BODY_IN_MEMORY = 1 << 20  # only for bodies we parse ourselves; proxied bodies stream


def _http_client(
    settings: Settings, limit: int, timeout_ceil_threshold: float = 5, skip_auto_headers: tuple[str, ...] = ()
) -> aiohttp.ClientSession:
    """An upstream client; ``limit`` 0 is no limit of its own; timers longer than
    ``timeout_ceil_threshold`` are rounded up to the whole second (aiohttp's default: 5 s);
    ``skip_auto_headers``: defaults aiohttp must not add to any of its requests."""
    api = settings.config.api
    connector = aiohttp.TCPConnector(
        limit=limit,
        keepalive_timeout=30,
        ssl=None if api.ssl_verify else False,
        timeout_ceil_threshold=timeout_ceil_threshold,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=api.connect_timeout),
        auto_decompress=False,  # pass compressed bodies through untouched
        cookie_jar=aiohttp.DummyCookieJar(),  # never carry one user's cookies into another's request
        skip_auto_headers=skip_auto_headers,
    )


def set_connect_timeout(http: aiohttp.ClientSession, seconds: float) -> None:
    """Apply a reloaded ``api.connect_timeout`` to every later proxied request and WebSocket handshake.

    aiohttp offers no setter for a session's default timeout; both request paths use it, so it is
    replaced here rather than passed at each call site.
    """
    old = http.timeout
    http._timeout = aiohttp.ClientTimeout(
        total=old.total,
        connect=old.connect,
        sock_read=old.sock_read,
        sock_connect=seconds,
        ceil_threshold=old.ceil_threshold,
    )


def _set_connect_timeouts(clients, seconds: float) -> None:
    for http in clients:
        set_connect_timeout(http, seconds)


def build_app(
    settings: Settings,
    instruments: Instruments,
    on_reload: Callable[[ReloadHook], None] = lambda hook: None,
    tracing: NoTracing = NO_TRACING,
    resources: StartResources | None = None,
) -> web.Application:
    """The worker's app; each component that copies a setting at start registers how it reloads it, and
    each that records metrics gets ``instruments``; each client that holds sockets is registered in
    ``resources`` as soon as it exists, to be closed if the start fails after it."""
    config = settings.config
    resources = resources or StartResources()
    app = web.Application(client_max_size=MAX_BODY_IN_MEMORY, handler_args=parser_limits(config))
    zmq_context = resources.zmq_context(zmq.asyncio.Context())
    key = load_shared_key(config.secrets_dir / ZMQ_KEY_FILE)
    daemon = SessionDaemonClient(
        zmq_context, session_daemon_endpoint(config), key, config.zmq.max_message_age, instruments=instruments
    )
    resources.add("session daemon client", daemon.close)
    sessions = SessionReader(
        redis_client(config, "frontdoor"),
        config.session.touch_interval,
        lambda session_id: daemon.call(Touch(session_id), timeout=5.0),
    )
    resources.add("session reader", sessions.close)
    signers = SignerPool(config, zmq_context, key, instruments=instruments)
    resources.add("signer pool", signers.close)
    front = FrontDoor(
        config=config,
        manager_endpoints=settings.manager_endpoints,
        sessions=sessions,
        signers=signers,
        daemon=daemon,
        http=_http_client(settings, config.api.connection_limit, skip_auto_headers=PROXIED_SKIP_AUTO_HEADERS),
        probe_http=probe_client(config),
        instruments=instruments,
        trusted_proxies=TrustedProxies(config.service.trusted_proxies),
        tracing=tracing,
        lean_http=LeanClient(
            limit=config.api.connection_limit,
            tls=client_tls(config.api.ssl_verify),
            connect_timeout=lambda: config.api.connect_timeout,  # reloadable: read at each connect
        ),
    )
    _register_clients(resources, front)
    app[FRONT_DOOR] = front
    app[REQUEST_METRICS] = RequestMetrics(instruments)
    security = install_security(app, front)  # CORS, CSRF, rate limits, security headers
    # One middleware: the request's id, line and metrics, then the Host check (nothing behind it sees
    # a Host that is not ours), the target check, errors as answers, the guard (frontdoor.request_chain).
    app.middlewares.append(RequestChain(HostPolicy.for_config(config), security.guard).handle)
    on_reload(security.reload)
    on_reload(sessions.reload)
    # WebSockets get a client of their own: each holds its connection for as long as it is open, so
    # sharing one pool let idle sockets starve ordinary requests.  Their number is bounded by the
    # relay (per session, per worker), not by a pool that would make a handshake wait for a slot.
    ws_http = _http_client(settings, 0, timeout_ceil_threshold=EXACT_TIMERS_UP_TO)  # heartbeats spread out
    resources.add("websocket client", ws_http.close)
    on_reload(lambda fresh: _set_connect_timeouts((front.http, ws_http), fresh.api.connect_timeout))
    relay = WebSocketRelay(ws_http, config.security, instruments=instruments)
    app[WS_RELAY] = relay  # the drain closes what is still open at its deadline
    sessions.on_revocation(relay.close_session)
    AuthRoutes(front).register(app)
    WebApiRoutes(front).register(app)
    AdminRoutes(front).register(app)  # POST /api/admin/users/{user_id}/revoke
    jwks_for(config.secrets_dir).register(app)
    SignupRoute(front).register(app)  # before the /func catch-all
    DeploymentProxy(front, relay).register(app)
    Pages(front).register(app)  # /ui/*: before the static catch-all
    if config.service.mode == "webui":
        WebUiConfig(config).register(app)
    register_stats(app)  # GET /stats (Backend.AI's in-flight counts), before the static catch-all
    static = StaticFiles.for_config(config)
    static.register(app)
    on_reload(static.reload)
    groups = GroupsWatcher(config, front.follow_groups)
    front.groups_watcher = groups
    app.cleanup_ctx.append(
        _background(
            {
                "session invalidations": sessions.run,
                "groups follower": groups.run,
                "upstream probes": lambda: probe_forever(front),
            }
        )
    )
    app.on_cleanup.append(lambda _app: _close(front, relay, zmq_context))
    return app


def _register_clients(resources: StartResources, front: FrontDoor) -> None:
    resources.add("upstream client", front.http.close)
    resources.add("probe client", front.probe_http.close)
    resources.add("lean upstream client", front.lean_http.close)


def _background(runners: dict[str, Callable[[], Awaitable[None]]]):
    async def context(_app: web.Application):
        tasks = [run_in_background(run(), name) for name, run in runners.items()]
        yield
        for task in tasks:
            task.cancel()
        # Bounded: a client stuck closing towards a dead etcd or Redis must not keep the process alive.
        await asyncio.wait(tasks, timeout=STOP_GRACE)

    return context


async def _close(front: FrontDoor, relay: WebSocketRelay, zmq_context: zmq.asyncio.Context) -> None:
    await front.http.close()
    front.lean_http.close()
    await front.probe_http.close()
    await relay.close_client()
    front.signers.close()
    front.daemon.close()
    await front.sessions.close()
    zmq_context.term()
