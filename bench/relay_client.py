"""The front door's upstream hop with each client, alternated: aiohttp's vs the lean one (frontdoor.lean_client).

One small aiohttp + uvloop server per run plays a front door reduced to its relay: every request is sent
upstream by ``frontdoor.upstream_exchange.UpstreamExchange.forward`` (the front door's headers, a fixed
signature, the answer's headers filtered and relayed), with ``FrontDoor.lean_http`` set or not.  The
upstream is ``bench/upstream_client.py``'s small-JSON server; ``wrk`` drives the relay.  Runs alternate
(aiohttp, lean, aiohttp, lean, ...) so that a busy machine weighs on both alike; printed per run and as
the best of each: requests/s and the relay process's CPU per request.  Nothing else of the front door
(sessions, signing, logs, rate limits) runs here: this isolates what the client choice changes.

Usage: .venv/bin/python -m bench.relay_client [--connections 1,16] [--pairs 3] [--duration 5] [--clients lean]

Another tree's code under this bench (old against new): run it from that tree,
``cd OLD && .venv/bin/python -c "import runpy, sys; sys.argv = ['relay_client', '--clients', 'lean'];
runpy.run_path('NEW/bench/relay_client.py', run_name='__main__')"``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import time

import psutil
import uvloop
from aiohttp import web

from bench.upstream_client import serve
from bench.wrk import run_wrk

SIGNED = {
    "Date": "2026-11-29T14:00:00.000000+00:00",
    "Authorization": "BackendAI signMethod=HMAC-SHA256, credential=AKIAIOSFODNN7EXAMPLE:" + "0" * 64,
}


def relay(port: int, upstream_port: int, lean: bool) -> None:
    from contract.config import parse_config
    from contract.webapi import MANAGER_DEPLOYMENT
    from frontdoor.app import _http_client
    from frontdoor.context import FrontDoor
    from frontdoor.lean_client import LeanClient
    from frontdoor.upstream import upstream_target
    from frontdoor.upstream_exchange import PROXIED_SKIP_AUTO_HEADERS, UpstreamExchange
    from service_runtime.http1 import client_tls
    from service_runtime.instruments import Instruments
    from service_runtime.settings import Settings

    upstream = f"http://127.0.0.1:{upstream_port}"
    config = parse_config({"api": {"endpoint": [upstream]}})

    async def start(app: web.Application) -> None:
        front = FrontDoor(
            config=config,
            manager_endpoints=[upstream],
            sessions=None,
            signers=None,
            daemon=None,
            http=_http_client(Settings(config, [upstream]), 1000, skip_auto_headers=PROXIED_SKIP_AUTO_HEADERS),
            probe_http=None,
            instruments=Instruments(),
            lean_http=LeanClient(limit=1000, tls=client_tls(True), connect_timeout=lambda: 10.0) if lean else None,
        )
        exchange = UpstreamExchange(front)
        deployment = front.deployment(MANAGER_DEPLOYMENT)

        async def forward(request: web.Request) -> web.StreamResponse:
            return await exchange.forward(request, upstream_target(upstream, "/auth?echo=bench"), SIGNED, deployment)

        app.router.add_get("/func/auth", forward)

    app = web.Application()
    app.on_startup.append(start)
    web.run_app(app, host="127.0.0.1", port=port, loop=uvloop.new_event_loop(), access_log=None, print=None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def one_run(upstream_port: int, lean: bool, connections: int, duration: float) -> tuple[float, float]:
    """(requests/s, relay CPU ms per request) of one run on a fresh relay process."""
    port = free_port()
    process = multiprocessing.Process(target=relay, args=(port, upstream_port, lean), daemon=True)
    process.start()
    try:
        wait_listening(port)
        url = f"http://127.0.0.1:{port}/func/auth?echo=bench"
        run_wrk(url, {}, connections, 1.0)  # warm-up: connections made, code paths hot
        measured = psutil.Process(process.pid)
        before = sum(measured.cpu_times()[:2])
        result = run_wrk(url, {}, connections, duration)
        cpu = sum(measured.cpu_times()[:2]) - before
        return result.rps, cpu * 1000 / max(result.requests, 1)
    finally:
        process.terminate()
        process.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--clients", default="aiohttp,lean", help="which clients run (aiohttp, lean)")
    args = parser.parse_args()
    upstream_port = free_port()
    upstream = multiprocessing.Process(target=serve, args=(upstream_port,), daemon=True)
    upstream.start()
    try:
        wait_listening(upstream_port)
        print(f"load average at start: {os.getloadavg()[0]:.2f}")
        print("| conns | client | req/s per run | relay CPU ms/req per run | best req/s | best CPU ms/req |")
        print("|---|---|---|---|---|---|")
        for connections in (int(c) for c in args.connections.split(",")):
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in args.clients.split(",")}
            for _ in range(args.pairs):
                for name in runs:
                    runs[name].append(one_run(upstream_port, name == "lean", connections, args.duration))
            for name, results in runs.items():
                rates = ", ".join(f"{r:,.0f}" for r, _ in results)
                cpus = ", ".join(f"{c:.3f}" for _, c in results)
                best_rate, best_cpu = max(r for r, _ in results), min(c for _, c in results)
                print(f"| {connections} | {name} | {rates} | {cpus} | {best_rate:,.0f} | {best_cpu:.3f} |", flush=True)
        print(f"load average at end: {os.getloadavg()[0]:.2f}")
    finally:
        upstream.terminate()
        upstream.join()


if __name__ == "__main__":
    main()
