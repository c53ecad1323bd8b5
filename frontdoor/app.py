"""Assembly of one front-door worker: its clients, its routes, and the background followers."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp
import zmq.asyncio
from aiohttp import web

from contract.bootstrap import Settings
from contract.messages import load_shared_key
from contract.runtime import ZMQ_KEY_FILE, redis_client, session_daemon_endpoint
from frontdoor.agent_directory import AgentDirectory
from frontdoor.auth_routes import AuthRoutes
from frontdoor.context import FrontDoor
from frontdoor.daemon_client import SessionDaemonClient
from frontdoor.middlewares import error_middleware, request_log_middleware
from frontdoor.proxy import ManagerProxy
from frontdoor.sessions import SessionReader
from frontdoor.signer_pool import SignerPool
from frontdoor.static import StaticFiles
from frontdoor.websocket import WebSocketRelay

FRONT_DOOR = web.AppKey("front_door", FrontDoor)
MAX_BODY_IN_MEMORY = 1 << 20  # only for bodies we parse ourselves; proxied bodies stream


def _http_client(settings: Settings) -> aiohttp.ClientSession:
    api = settings.config.api
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=1000, keepalive_timeout=30, ssl=None if api.ssl_verify else False),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=api.connect_timeout),
        auto_decompress=False,  # pass compressed bodies through untouched
        cookie_jar=aiohttp.DummyCookieJar(),  # never carry one user's cookies into another's request
    )


def build_app(settings: Settings) -> web.Application:
    config = settings.config
    app = web.Application(middlewares=[request_log_middleware, error_middleware], client_max_size=MAX_BODY_IN_MEMORY)
    zmq_context = zmq.asyncio.Context()
    key = load_shared_key(config.secrets_dir / ZMQ_KEY_FILE)
    daemon = SessionDaemonClient(zmq_context, session_daemon_endpoint(config), key, config.zmq.max_message_age)
    sessions = SessionReader(
        redis_client(config, "frontdoor"),
        config.session.touch_interval,
        lambda session_id: daemon.call("touch", {"session_id": session_id}, timeout=5.0),
    )
    signers = SignerPool(config, zmq_context, key)
    front = FrontDoor(
        config=config,
        manager_endpoints=settings.manager_endpoints,
        sessions=sessions,
        signers=signers,
        daemon=daemon,
        http=_http_client(settings),
        trusted_proxies=frozenset(config.service.trusted_proxies),
    )
    app[FRONT_DOOR] = front
    relay = WebSocketRelay(front.http)
    sessions.on_revocation(relay.close_session)
    AuthRoutes(front).register(app)
    ManagerProxy(front, relay).register(app)
    StaticFiles(config.service.static_path, spa_fallback=config.service.mode == "webui").register(app)
    directory = AgentDirectory(config, signers.update_agents)
    app.cleanup_ctx.append(_background([sessions.listener.run, directory.run]))
    app.on_cleanup.append(lambda _app: _close(front, zmq_context))
    return app


def _background(runners):
    async def context(_app: web.Application):
        tasks = [asyncio.create_task(run()) for run in runners]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return context


async def _close(front: FrontDoor, zmq_context: zmq.asyncio.Context) -> None:
    await front.http.close()
    front.signers.close()
    front.daemon.close()
    await front.sessions.close()
    zmq_context.term()
