"""One front-door worker's life: listen, reload on SIGHUP, drain on SIGTERM.

SIGTERM: /readyz turns 503 at once, and a request that finds no signer gets its 503 at once instead
of waiting ``pool_wait``; after ``[ops] unready_delay`` the public listener leaves the port (the other
workers sharing it keep accepting; what the kernel had already handed this one is served, see
``frontdoor.shared_port``; at once if the supervisor that started it is gone: see ``orphaned``);
requests and WebSockets in flight may finish until ``[ops] drain_timeout`` (every answer given
meanwhile closes its connection); WebSockets still open then are closed with 1001 (going away),
anything else left is cancelled, and the process exits.

SIGHUP: the configuration is re-read (file and etcd) and applied in place (``service_runtime.reload``),
then every component's reload hook runs: the TLS certificate and key are re-read into the live SSL
context (new handshakes get them, open connections are untouched), and the app's components (registered by ``build_app``)
apply the settings they copied at start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl

from aiohttp import web

from contract.config import Config
from contract.webapi import MANAGER_DEPLOYMENT
from frontdoor.app import FRONT_DOOR, build_app
from frontdoor.header_deadline import HeaderDeadlines
from frontdoor.middlewares import CLOSING
from frontdoor.observability import IN_FLIGHT
from frontdoor.ops import LIFECYCLE, WS_RELAY, GaugeSampler, Lifecycle, build_ops_app
from frontdoor.shared_port import SharedPortSite
from frontdoor.websocket import EXACT_TIMERS_UP_TO
from service_runtime.background import run_in_background
from service_runtime.long_lived_gc import LongLivedCollector
from service_runtime.process import Process

log = logging.getLogger(__name__)

GOING_AWAY = 1001
FINAL_GRACE = 2.0  # after the drain deadline: for closed WebSockets to end and cancelled handlers to unwind
POLL = 0.05


def tls_context(config: Config) -> ssl.SSLContext | None:
    if not config.service.ssl_enabled:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config.service.ssl_cert, config.service.ssl_privkey)
    return context


def reload_tls(context: ssl.SSLContext, config: Config) -> bool:
    """Load the (possibly renewed) certificate into the live context; keep the old one if it fails."""
    try:
        context.load_cert_chain(config.service.ssl_cert, config.service.ssl_privkey)
    except (OSError, ssl.SSLError) as exc:
        log.error(
            "TLS certificate not reloaded",
            extra={"event": "tls_reload", "status": "failure", "error": type(exc).__name__},
        )
        return False
    log.info("TLS certificate reloaded", extra={"event": "tls_reload", "status": "success"})
    return True


class Worker:
    """One front-door worker as a ``service_runtime.process`` service: ``start`` listens, ``stop`` drains."""

    def __init__(self, process: Process, worker: int):
        self._parent = os.getppid()
        self._stopping = process.stopping  # set by SIGTERM, also while ``start`` still waits
        self.config = process.config
        self.app = build_app(
            process.settings, process.instruments, process.on_reload, process.tracing, process.resources
        )
        self.front = self.app[FRONT_DOOR]
        self.lifecycle = Lifecycle(worker)
        self.app[LIFECYCLE] = self.lifecycle
        self._tls = tls_context(self.config)
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=FINAL_GRACE,
            keepalive_timeout=self.config.security.keepalive_timeout,
            timeout_ceil_threshold=EXACT_TIMERS_UP_TO,  # the browsers' WebSocket heartbeats spread out
        )
        self._ops_runner = web.AppRunner(
            build_ops_app(self.front, self.lifecycle), access_log=None, handle_signals=False
        )
        self._site: SharedPortSite | None = None
        self._ops_site: SharedPortSite | None = None
        self._sampler: asyncio.Task | None = None
        self._collector: asyncio.Task | None = None
        if self._tls is not None:
            process.on_reload(lambda config: reload_tls(self._tls, config))

    async def start(self) -> None:
        await self._runner.setup()  # starts the background followers (etcd groups, invalidations)
        HeaderDeadlines(lambda: self.config.security.header_read_timeout).install(self._runner.server)
        await self._until_signers()
        if self._stopping.is_set():  # asked to stop while waiting: never listen (stop has nothing to drain)
            return
        service, ops = self.config.service, self.config.ops
        self._site = SharedPortSite(self._runner, service.ip, service.port, ssl_context=self._tls, backlog=1024)
        await self._site.start()
        await self._ops_runner.setup()
        self._ops_site = SharedPortSite(self._ops_runner, ops.ip, ops.port)
        await self._ops_site.start()
        relay = self.app.get(WS_RELAY)
        self._sampler = run_in_background(GaugeSampler(self.front, relay).run(), "gauge sampler")
        if relay is not None:  # idle WebSockets kept out of full collections (service_runtime.long_lived_gc)
            self._collector = run_in_background(LongLivedCollector(relay.counts).run(), "long-lived collector")
        log.info(
            "front door listening",
            extra={
                "event": "startup",
                "worker": self.lifecycle.worker,
                "port": service.port,
                "ops_port": ops.port,
            },
        )

    async def _until_signers(self) -> None:
        """Take connections only once this worker can sign (a signer serving the Manager connected),
        so a worker started by a rolling restart makes no request wait; after ``pool_wait`` at most
        (a host whose signers are all down still answers, with 503s).  A SIGTERM ends the wait: before,
        the worker waited it out, listened, and only then drained (18 s to stop with pool_wait 20)."""
        pool_wait = self.config.signers.pool_wait
        if self.front.signers.agents_serving(MANAGER_DEPLOYMENT):
            return
        log.info("waiting for a signer", extra={"event": "waiting_for_signers", "pool_wait": pool_wait})
        serving = asyncio.ensure_future(self.front.signers.until_serving(MANAGER_DEPLOYMENT, pool_wait))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            serving.cancel()
            stopping.cancel()

    async def stop(self) -> None:
        try:
            await self.drain()
        finally:
            for task in (self._sampler, self._collector):
                if task is not None:
                    task.cancel()
            if self._ops_site is not None:  # a probe or scrape the kernel handed us is answered too
                await (self._ops_site.stop() if self.orphaned else self._ops_site.leave())
            await self._ops_runner.cleanup()

    @property
    def orphaned(self) -> bool:
        """Whether the process that started this one is gone (``kill -9`` of ``webui-host run``: the
        kernel's parent-death SIGTERM reaches every program at once).  No other worker will take the
        port's connections then, and no signer will answer: the listeners close at once, as a hand-over
        would only hold new requests for nothing."""
        return os.getppid() != self._parent

    async def drain(self) -> None:
        if self._site is None:  # stopped before it listened
            await self._runner.cleanup()
            return
        loop = asyncio.get_running_loop()
        ops = self.config.ops
        self.lifecycle.draining = True
        self.front.signers.stop_waiting()
        self.front.instruments.draining_workers.inc()
        log.info(
            "draining",
            extra={
                "event": "drain_start",
                "in_flight": IN_FLIGHT.total,
                "unready_delay": ops.unready_delay,
                "drain_timeout": ops.drain_timeout,
            },
        )
        await asyncio.sleep(ops.unready_delay)
        deadline = loop.time() + ops.drain_timeout
        # No new connections (the port's other workers keep accepting).  Open connections are not
        # closed under their requests: uploads and WebSockets keep flowing; each connection ends with
        # its next answer (Connection: close, see middlewares.mark_answer); idle ones at the end.
        await (self._site.stop() if self.orphaned else self._site.leave())
        await _wait_idle(deadline)
        relay = self.app.get(WS_RELAY)
        if relay is not None and relay.open_count:
            await relay.close_all(GOING_AWAY, b"server shutting down")
            await _wait_idle(loop.time() + FINAL_GRACE)
        left = IN_FLIGHT.total
        await self._runner.cleanup()  # cancels what is left (after FINAL_GRACE), closes the clients
        CLOSING.flush()  # the lines of requests cut by the cleanup, queued for a loop turn that may not come
        self.front.instruments.draining_workers.dec()
        log.info(
            "drained", extra={"event": "drain_done", "status": "success" if not left else "failure", "cancelled": left}
        )


async def _wait_idle(deadline: float) -> None:
    loop = asyncio.get_running_loop()
    while IN_FLIGHT.total > 0 and loop.time() < deadline:
        await asyncio.sleep(POLL)
