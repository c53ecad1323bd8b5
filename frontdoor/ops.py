"""The ops listener (``/metrics``, ``/livez``, ``/readyz``, ``/health``) and Backend.AI's public ``GET /stats``.

Every front-door worker serves the ops port too (SO_REUSEPORT): whichever answers a scrape reads the
metric files of every process of the host, and whichever answers a probe reports on its own view of
Redis, the signers and the Manager, and on whether it is draining.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

from aiohttp import web

from contract.etcd_layout import AgentState
from contract.webapi import MANAGER_DEPLOYMENT
from frontdoor.context import FrontDoor
from frontdoor.endpoint_probe import probe
from frontdoor.observability import IN_FLIGHT
from frontdoor.websocket import WebSocketRelay
from service_runtime.metrics import render_latest
from service_runtime.version import VERSION

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0
SAMPLE_INTERVAL = 1.0
AGENT_STATES = (AgentState.UP, AgentState.DOWN, AgentState.OUT_OF_SERVICE, AgentState.STARTING, AgentState.UNKNOWN)


@dataclass
class Lifecycle:
    """What the probes need to know about this worker's life."""

    worker: int
    started_at: float = field(default_factory=time.time)
    draining: bool = False


LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
WS_RELAY = web.AppKey("ws_relay", WebSocketRelay)


# ---- readiness ----


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"status": "ok" if self.ok else "error", "detail": self.detail}


class Readiness:
    """Ready = Redis answers, the Manager's group has an Up signer, the Manager answers, not draining."""

    def __init__(self, front: FrontDoor, lifecycle: Lifecycle):
        self._front = front
        self._lifecycle = lifecycle

    async def report(self) -> tuple[bool, dict]:
        redis, signers, manager = await asyncio.gather(self._redis(), self._signers(), self._manager())
        checks = {"redis": redis, "signers": signers, "manager": manager}
        for name, check in checks.items():  # updated at every probe: the alerts' "unreachable" signal
            self._front.instruments.dependency_up.labels(name).set(1 if check.ok else 0)
        ready = all(check.ok for check in checks.values()) and not self._lifecycle.draining
        doc = {
            "status": "ok" if ready else "error",
            "version": VERSION,
            "component": "webserver",
            "worker": self._lifecycle.worker,
            "draining": self._lifecycle.draining,
            "connectivity": {name: check.to_dict() for name, check in checks.items()},
        }
        return ready, doc

    async def _redis(self) -> Check:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT):
                await self._front.sessions.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            return Check(False, type(exc).__name__)
        return Check(True, "reachable")

    async def _signers(self) -> Check:
        # Ready means this host can sign now: other hosts' signers do not count (their sockets are theirs).
        serving = self._front.signers.agents_serving(MANAGER_DEPLOYMENT, on_host=socket.gethostname())
        return Check(bool(serving), f"{len(serving)} on this host serving the Manager deployment")

    async def _manager(self) -> Check:
        """Ready while any Manager endpoint answers (requests go to the ones that do)."""
        urls = self._front.manager_endpoints
        path = self._front.config.api.health_check_probe_path
        alive = await asyncio.gather(*(probe(self._front.probe_http, url, CHECK_TIMEOUT, path) for url in urls))
        return Check(any(alive), f"{sum(alive)} of {len(urls)} Manager endpoints answer")


def build_ops_app(front: FrontDoor, lifecycle: Lifecycle) -> web.Application:
    readiness = Readiness(front, lifecycle)
    app = web.Application()

    async def livez(_request: web.Request) -> web.Response:
        # Alive means the event loop answers; dependencies are readiness, not a reason to restart.
        return web.json_response({"status": "ok", "version": VERSION, "component": "webserver"})

    async def readyz(_request: web.Request) -> web.Response:
        ready, doc = await readiness.report()
        return web.json_response(doc, status=200 if ready else 503)

    async def health(_request: web.Request) -> web.Response:
        ready, doc = await readiness.report()
        doc["status"] = "ok" if ready else "degraded"
        return web.json_response(doc)

    async def metrics(_request: web.Request) -> web.Response:
        # Reading every process's files is file I/O: keep it off the event loop.
        own = front.instruments.registry
        body, content_type = await asyncio.get_running_loop().run_in_executor(None, render_latest, own)
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response

    app.router.add_get("/livez", livez)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    return app


# ---- Backend.AI's GET /stats (public port) ----


def stats_text(doc: dict[str, int]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in doc.items())


async def stats(request: web.Request) -> web.Response:
    wanted = request.query.get("format", "text")
    doc = IN_FLIGHT.stats(len(asyncio.all_tasks()))
    if wanted == "json":
        return web.json_response(doc)
    if wanted == "text":
        return web.Response(text=stats_text(doc), content_type="text/plain")
    shown = "".join(ch for ch in wanted[:32] if ch.isprintable())
    return web.Response(status=400, text=f"Invalid format: {shown}", content_type="text/plain")


def register_stats(app: web.Application) -> None:
    """``GET /stats``; register before the static catch-all."""
    app.router.add_get("/stats", stats)


# ---- gauges sampled once a second ----


class GaugeSampler:
    """Sets the gauges that describe state rather than events; a label seen before but gone now is set to 0."""

    def __init__(self, front: FrontDoor, relay: WebSocketRelay | None):
        self._front = front
        self._relay = relay
        self._seen_agents: set[str] = set()
        self._seen_states: set[tuple[str, str]] = set()

    async def run(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a sampling bug must not stop the worker
                log.exception("sampling gauges failed", extra={"event": "internal_error"})
            await asyncio.sleep(SAMPLE_INTERVAL)

    def sample(self) -> None:
        instruments = self._front.instruments
        depths = self._front.signers.queue_depths()
        for agent in self._seen_agents - set(depths):
            instruments.signer_queue.labels(agent).set(0)
        for agent, depth in depths.items():
            instruments.signer_queue.labels(agent).set(depth)
        self._seen_agents |= set(depths)
        counts = agent_state_counts(self._front.groups)
        for key in self._seen_states - set(counts):
            instruments.agents.labels(*key).set(0)
        for key, count in counts.items():
            instruments.agents.labels(*key).set(count)
        self._seen_states |= set(counts)
        if self._relay is not None:
            instruments.open_websockets.set(self._relay.open_count)


def agent_state_counts(snapshot) -> dict[tuple[str, str], int]:
    """Agents per (group, effective state), every state listed for every defined group."""
    counts: Counter[tuple[str, str]] = Counter()
    for group in snapshot.all_groups():
        for state in AGENT_STATES:
            counts[(group, state)] += 0
        for view in snapshot.agents_of(group):
            counts[(group, view.state)] += 1
    for view in snapshot.unknown_agents():
        counts[(view.group, view.state)] += 1
    return dict(counts)
