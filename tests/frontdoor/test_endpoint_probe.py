"""Active probes: a pool of their own (a proxy pool that is full cannot make a live endpoint look dead)
and a jittered schedule (the workers of a host do not probe in lockstep)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from pathlib import Path

import pytest
from aiohttp import web

from contract.config import parse_config
from contract.webapi import MANAGER_DEPLOYMENT
from frontdoor.app import FRONT_DOOR, build_app
from frontdoor.endpoint_pool import EndpointPool
from frontdoor.endpoint_probe import JITTER, next_pause, probe_all, probe_forever, record
from frontdoor.ops import Lifecycle, Readiness
from service_runtime.instruments import Instruments
from service_runtime.keyfiles import ensure_secrets
from service_runtime.settings import Settings
from tests.support.polling import eventually
from tests.support.ports import free_port


class Upstream:
    """A real HTTP upstream: ``/hang`` holds its connection until released; anything else answers 200."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.hanging = asyncio.Event()
        self.release = asyncio.Event()

    async def answer(self, request: web.Request) -> web.Response:
        self.seen.append(request.path)
        if request.path == "/hang":
            self.hanging.set()
            await self.release.wait()
        return web.Response(text="ok")


@pytest.fixture
async def upstream():
    upstream = Upstream()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", upstream.answer)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    upstream.url = f"http://127.0.0.1:{port}"
    yield upstream
    upstream.release.set()
    await runner.cleanup()


@pytest.fixture
async def front_door(upstream):
    """A worker's app as ``build_app`` assembles it, with a proxy pool of one connection (not served)."""
    directory = Path(tempfile.mkdtemp(prefix="probe-", dir="/tmp"))
    ensure_secrets(directory / "secrets")
    config = parse_config(
        {
            "api": {"endpoint": [upstream.url], "connection_limit": 1, "unhealthy_after": 1},
            "session": {"redis": {"addr": f"127.0.0.1:{free_port()}"}},  # nothing listens: Redis is not needed
            "runtime": {"state_dir": str(directory / "state"), "secrets_dir": str(directory / "secrets")},
            "zmq": {"ipc_dir": str(directory / "ipc")},
        }
    )
    app = build_app(Settings(config, [upstream.url]), Instruments())
    app.freeze()
    yield app[FRONT_DOOR]
    await app.cleanup()
    shutil.rmtree(directory, ignore_errors=True)


async def test_probes_and_readiness_work_while_the_proxy_pool_is_taken(upstream, front_door):
    held = asyncio.create_task(front_door.http.get(upstream.url + "/hang"))  # the pool's only connection
    await asyncio.wait_for(upstream.hanging.wait(), 5)
    try:
        await probe_all(front_door, timeout=1.0)
        pool = front_door.endpoint_pool(front_door.deployment(MANAGER_DEPLOYMENT))
        assert pool.endpoints[upstream.url].healthy, "a probe waited behind proxied traffic and timed out"
        assert upstream.seen.count("/") == 1
        _ready, doc = await Readiness(front_door, Lifecycle(0)).report()
        assert doc["connectivity"]["manager"]["status"] == "ok", doc
    finally:
        upstream.release.set()
        (await held).release()


def test_pauses_vary_around_the_interval():
    assert next_pause(5.0, 0.0) == pytest.approx(5.0 * (1 - JITTER))
    assert next_pause(5.0, 0.5) == pytest.approx(5.0)
    assert next_pause(5.0, 0.999999) == pytest.approx(5.0 * (1 + JITTER))
    assert 0 < JITTER < 1


async def test_a_worker_first_probes_at_its_own_phase_of_the_interval(upstream, front_door, monkeypatch):
    monkeypatch.setattr(front_door.config.api, "health_check_interval", 0.4)
    loop = asyncio.get_running_loop()
    started = loop.time()
    probing = asyncio.create_task(probe_forever(front_door, draw=lambda: 0.5))
    try:
        await eventually(lambda: "/" in upstream.seen, timeout=5, interval=0.01, what="a first probe")
        assert loop.time() - started >= 0.2  # half the interval in: not at once, as every worker would
    finally:
        probing.cancel()


def test_the_health_gauge_follows_an_endpoint_through_failures_and_recovery():
    """Written only when the health changes (a gauge write is an mmap write), and always right."""
    url = "http://manager-a:8081"
    instruments = Instruments("frontdoor")
    pool = EndpointPool([url], unhealthy_after=2)

    def exported():
        labels = {"deployment": "manager", "endpoint": url}
        return instruments.registry.get_sample_value("webui_host_upstream_healthy", labels)

    seen = []
    for alive in (True, True, False, False, False, True, True):
        record(instruments, pool, "manager", url, alive)
        seen.append(exported())
    assert seen == [1.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    fresh = EndpointPool([url], unhealthy_after=2)  # the upstream list changed: a new pool exports anew
    instruments.upstream_healthy.labels("manager", url).set(0)
    record(instruments, fresh, "manager", url, True)
    assert exported() == 1.0
