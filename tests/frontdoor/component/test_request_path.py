"""The front door's request path as a component, without supervisord: ``build_app`` in process
against a real redis-server and etcd, an in-process ``SignerService`` and ``SessionDaemon`` on real
ipc sockets, and the development Manager (which verifies every signature) as a real aiohttp server."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from contract.config import parse_config
from devstack.app import create_app
from frontdoor import upstream_exchange
from frontdoor.app import FRONT_DOOR, build_app
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import ensure_secrets
from service_runtime.settings import Settings
from session_daemon.service import SessionDaemon
from signer_worker.service import SignerService
from tests.support.front_door_config import NO_PROBES
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.servers import start_etcd, start_redis

ADMIN = ("admin@lablup.com", "wJalrXUt")


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


class Stack:
    def __init__(self, base_url: str, signer: SignerService, manager_saw: list, manager_hooks: list, front=None):
        self.base_url = base_url
        self.front = front  # the front door's shared parts (frontdoor.context.FrontDoor)
        self.signer = signer
        self.manager_saw = manager_saw  # the headers of every request the Manager received
        self.manager_hooks = manager_hooks  # called with each request the Manager receives, as it arrives

    def client(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(self.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))


def _recording(app: web.Application) -> tuple[web.Application, list, list]:
    seen: list = []
    hooks: list = []

    @web.middleware
    async def record(request: web.Request, handler):
        seen.append(request.headers.copy())
        for hook in hooks:
            hook(request)
        return await handler(request)

    app.middlewares.append(record)
    return app, seen, hooks


@pytest.fixture
async def stack():
    directory = Path(tempfile.mkdtemp(prefix="fdc-", dir="/tmp"))  # ipc paths must stay short
    secrets_dir = directory / "secrets"
    ensure_secrets(secrets_dir)
    redis_handle = start_redis(directory, secrets_dir)
    etcd = start_etcd(directory)
    manager_app, manager_saw, manager_hooks = _recording(create_app())
    manager_runner, manager_url = await _serve(manager_app)
    config = parse_config(
        {
            "api": {"endpoint": [manager_url], **NO_PROBES},
            "session": {"redis": {"addr": redis_handle.addr}},
            "etcd": {"addr": f"127.0.0.1:{etcd.port}"},
            "runtime": {"state_dir": str(directory / "state"), "secrets_dir": str(secrets_dir)},
            "zmq": {"ipc_dir": str(directory / "ipc")},
            "signers": {"pool_wait": 1.0},
        }
    )
    settings = Settings(config, [manager_url])
    daemon = SessionDaemon(settings, instruments=Instruments())
    await daemon.start()
    signer = SignerService(settings, "agent-fd1", "DEFAULT", instruments=Instruments())
    await signer.start()
    front_runner = None
    try:
        await eventually(lambda: signer._bound, timeout=20, what="signer bound")
        front_app = build_app(settings, Instruments())
        front_runner, base_url = await _serve(front_app)
        yield Stack(base_url, signer, manager_saw, manager_hooks, front_app[FRONT_DOOR])
    finally:
        if front_runner is not None:
            await front_runner.cleanup()
        await signer.stop()
        await daemon.stop()
        await manager_runner.cleanup()
        redis_handle.stop()
        etcd.stop()
        shutil.rmtree(directory, ignore_errors=True)


async def _login(client: aiohttp.ClientSession) -> None:
    async with client.post("/server/login", json={"username": ADMIN[0], "password": ADMIN[1]}) as response:
        assert response.status == 200, await response.text()


def _answers(client: aiohttp.ClientSession, status: int):
    async def check() -> bool:
        async with client.get("/func/auth?echo=hi") as response:
            return response.status == status

    return check


async def test_login_signed_proxied_call_and_logout(stack):
    async with stack.client() as client:
        await _login(client)
        # The front door reaches the signer through etcd's view of the group: poll until it does.
        await eventually(_answers(client, 200), timeout=20, what="signed call")
        async with client.get("/func/auth?echo=hello%20world") as response:
            assert response.status == 200, await response.text()
            assert await response.json() == {"authorized": "yes", "echo": "hello world"}
            assert response.headers["X-Devstack-Auth"] == "hmac"
        async with client.post("/server/logout") as response:
            assert response.status < 400, await response.text()
        async with client.get("/func/auth?echo=hi") as response:
            assert response.status == 401, await response.text()


async def test_only_the_browsers_accept_headers_go_upstream(stack):
    """aiohttp's client adds Accept and Accept-Encoding of its own unless told not to: the Manager must
    get the browser's, or none."""
    async with stack.client() as client:
        await _login(client)
        await eventually(_answers(client, 200), timeout=20, what="signed call")
        bare = ("Accept", "Accept-Encoding")
        async with client.get("/func/auth?echo=bare", skip_auto_headers=bare) as response:
            assert response.status == 200, await response.text()
        assert not any(name in stack.manager_saw[-1] for name in bare)
        async with client.get("/func/auth?echo=br", headers={"Accept-Encoding": "br", "Accept": "x/y"}) as response:
            assert response.status == 200, await response.text()
        assert (stack.manager_saw[-1]["Accept-Encoding"], stack.manager_saw[-1]["Accept"]) == ("br", "x/y")


async def test_websocket_relay(stack):
    async with stack.client() as client:
        await _login(client)
        await eventually(_answers(client, 200), timeout=20, what="signed call")
        async with client.ws_connect("/func/stream/echo") as socket:
            await socket.send_str("ping through the relay")
            message = await socket.receive(timeout=5)
            assert message.type == aiohttp.WSMsgType.TEXT
            assert "ping through the relay" in message.data


async def test_cross_origin_state_change_is_refused(stack):
    async with stack.client() as client:
        await _login(client)
        async with client.post("/func/auth", json={}, headers={"Origin": "https://evil.example.com"}) as response:
            assert response.status == 403, await response.text()
        async with client.options(
            "/func/auth",
            headers={
                "Origin": "https://evil.example.com",
                "Access-Control-Request-Method": "POST",
            },
        ) as response:
            assert "Access-Control-Allow-Origin" not in response.headers


async def test_503_when_no_signer_serves(stack):
    async with stack.client() as client:
        await _login(client)
        await eventually(_answers(client, 200), timeout=20, what="signed call")
        await stack.signer.stop()
        await eventually(_answers(client, 503), timeout=20, what="503 without signers")


async def test_a_reload_of_the_default_api_version_during_a_request_keeps_its_signature_valid(stack):
    """The version a request is signed for is the version sent: a SIGHUP that changes
    ``api.default_version`` while the signer works must not make the Manager refuse the signature."""
    config = stack.signer.config  # the one Config every component of this process shares
    signing = stack.signer.server._handler

    def reloaded_meanwhile(envelope):
        answer = signing(envelope)
        config.api.default_version = "v8.20240315"  # what apply_reload does, in place
        return answer

    async with stack.client() as client:
        await _login(client)
        await eventually(_answers(client, 200), timeout=20, what="signed call")
        stack.signer.server._handler = reloaded_meanwhile
        async with client.get("/func/auth?echo=reload") as response:
            assert response.status == 200, await response.text()


async def test_the_upstream_headers_are_made_while_the_signer_works(stack, monkeypatch):
    """The signing request leaves first; the headers that need no signature are made while the
    signer (in this process, so it runs only when the front door's request waits) works on it."""
    made: list[str] = []
    make = upstream_exchange.upstream_fields

    def recorded(*args, **kwargs):
        made.append(kwargs["host"])
        return make(*args, **kwargs)

    monkeypatch.setattr(upstream_exchange, "upstream_fields", recorded)
    signing = stack.signer.server._handler
    made_at_signing: list[int] = []

    def counting(envelope):
        made_at_signing.append(len(made))
        return signing(envelope)

    async with stack.client() as client:
        await _login(client)
        await eventually(_answers(client, 200), timeout=20, what="signed call")
        stack.signer.server._handler = counting
        made.clear()
        async with client.get("/func/auth?echo=overlap") as response:
            assert response.status == 200, await response.text()
            assert await response.json() == {"authorized": "yes", "echo": "overlap"}  # the signature held
    assert made_at_signing == [1] and len(made) == 1  # made once, before the signer signed


async def test_a_deployment_of_a_group_one_may_not_read_is_not_disclosed_while_the_manager_is_everyones(stack):
    """The Manager's deployment takes no look at the caller's grants (anyone logged in may call it: it
    authorises for itself); any other deployment does, at every request."""
    async with stack.client() as admin, stack.client() as user:
        await _login(admin)
        async with user.post("/server/login", json={"username": "user@lablup.com", "password": "C8qnIo29"}) as r:
            assert r.status == 200, await r.text()
        await eventually(_answers(admin, 200), timeout=20, what="signed call")
        async with admin.post("/api/webapi/groups", json={"name": "SECRET"}) as response:
            assert response.status == 201, await response.text()
        hidden = {"name": "hidden", "route_prefix": "/webapi/hidden", "upstreams": ["http://127.0.0.1:9"]}
        async with admin.post("/api/webapi/groups/SECRET/deployments", json=hidden) as response:
            assert response.status == 201, await response.text()

        async def known_to_the_front_door() -> bool:  # the admin may: past the check, no signer in SECRET
            async with admin.get("/webapi/hidden/x") as response:
                return response.status != 404

        await eventually(known_to_the_front_door, timeout=20, what="the deployment in the front door's snapshot")
        async with user.get("/webapi/hidden/x") as response:
            assert response.status == 404, await response.text()
            assert "hidden" in (await response.json())["title"]
        await eventually(_answers(user, 200), timeout=20, what="the user's signed call to the Manager")


def _serving_chains() -> list[list[str]]:
    """Of each task serving a front-door request now, its coroutines from the request chain inward: the
    frames each resumption of the request passes through (and each one a coroutine made per request)."""
    chains = []
    for task in asyncio.all_tasks():
        names, coroutine = [], task.get_coro()
        while hasattr(coroutine, "cr_code"):
            names.append(coroutine.cr_code.co_qualname)
            coroutine = coroutine.cr_await
        if "RequestChain.handle" in names:
            chains.append(names[names.index("RequestChain.handle") :])
    return chains


def _ours(chain: list[str], until: str) -> list[str]:
    """The chain down to, not including, the first frame of ``until``'s class (another module's part)."""
    return chain[: next(i for i, name in enumerate(chain) if name.startswith(until))]


async def test_a_proxied_request_waits_through_few_frames_of_the_front_doors_own(stack):
    """While the signer works and while the Manager answers, a proxied request with a known session is
    suspended through the chain, the route's handler, the attempts and the call that waits: no frame of
    a function that only passes an awaitable on (the guard, ``_proxy``, ``_signed_headers``,
    ``_exchange``: each would be resumed again per suspension)."""
    signing = stack.signer.server._handler
    at_signing: list[list[str]] = []
    at_manager: list[list[str]] = []

    def recording(envelope):
        at_signing.extend(_serving_chains())
        return signing(envelope)

    def manager_records(request: web.Request) -> None:
        if request.query.get("echo") == "frames":
            at_manager.extend(_serving_chains())

    async with stack.client() as client:
        await _login(client)
        await eventually(_answers(client, 200), timeout=20, what="signed call")
        stack.signer.server._handler = recording
        stack.manager_hooks.append(manager_records)
        async with client.get("/func/auth?echo=frames") as response:
            assert response.status == 200, await response.text()
    handler = ["RequestChain.handle", "DeploymentProxy.handle_manager", "DeploymentProxy._to_an_endpoint"]
    assert [_ours(chain, "SignerPool.") for chain in at_signing] == [
        handler + ["DeploymentProxy._signature_or_refusal"]
    ]
    assert [_ours(chain, "LeanClient.") for chain in at_manager] == [handler + ["LeanExchange.exchange"]]


async def test_a_signed_request_slides_its_sessions_expiry(stack):
    """A signed request asks the session daemon to slide the session's expiry (at most once per
    ``touch_interval``, here 0: every request)."""
    config, sessions = stack.signer.config, stack.front.sessions
    touch, touched = sessions._touch, []

    async def recording(session_id):
        touched.append(session_id)
        return await touch(session_id)

    async with stack.client() as client:
        await _login(client)
        await eventually(_answers(client, 200), timeout=20, what="signed call")
        config.session.touch_interval = 0.0  # what a reload applies in place, then its hook
        sessions.reload(config)
        sessions._touch = recording
        async with client.get("/func/auth?echo=touch") as response:
            assert response.status == 200, await response.text()
        await eventually(lambda: len(touched) == 1, timeout=5, what="the session touched")
        cookie = next(c for c in client.cookie_jar if c.key == config.session.cookie_name)
        assert touched == [cookie.value]


async def test_with_rate_limits_off_the_proxy_reads_the_session_the_guard_did_not(stack):
    """The guard reads the session for the rate limit; with limits off it does not, and a session that
    memory cannot vouch for yet (just logged in) is read by the proxy itself."""
    config = stack.signer.config
    async with stack.client() as client:
        await _login(client)
        await eventually(_answers(client, 200), timeout=20, what="signed call")
        config.security.rate_limit.enabled = False  # reloadable: read at each request
        try:
            async with stack.client() as fresh:
                await _login(fresh)
                async with fresh.get("/func/auth?echo=unread") as response:
                    assert response.status == 200, await response.text()
                    assert await response.json() == {"authorized": "yes", "echo": "unread"}
        finally:
            config.security.rate_limit.enabled = True
