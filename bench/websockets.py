"""Benchmark: many idle WebSockets through one host while ordinary proxied requests continue.

Starts the whole stack (``webui-host run``, embedded Redis, etcd and devstack, loopback only, free
ports) with the WebSocket bounds raised to ``--count``, then
  1. sends ordinary signed requests (``GET /func/auth``) at ``--rate`` per second for ``--phase``
     seconds: the baseline latency;
  2. opens ``--count`` WebSockets to ``/func/stream/echo`` (idle afterwards), ``--burst`` at a time;
  3. with all of them open, the same ordinary requests again, and one echo on a sample of sockets;
and prints the front doors' RSS per idle WebSocket and the ordinary requests' latency and failures in
both phases.  It stops only what it started (its own stack); everything is bounded by ``--max-seconds``.

Usage: .venv/bin/python bench/websockets.py [--count 10000] [--workers 2] [--rate 50] [--phase 10]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.stack import ADMIN_USER, RunningStack  # noqa: E402
from tests.support.websockets import close_all, closed_codes, echo_sample, open_sockets, raise_fd_limit  # noqa: E402


def frontdoor_rss(stack: RunningStack) -> int:
    return sum(psutil.Process(pid).memory_info().rss for pid in stack.pids("frontdoor:"))


async def ordinary_load(session: aiohttp.ClientSession, rate: float, seconds: float) -> dict:
    """Requests at a steady rate (each on its own task, so a slow one does not slow the rest)."""
    latencies: list[float] = []
    failed = 0

    async def one(n: int) -> None:
        nonlocal failed
        started = time.perf_counter()
        try:
            async with session.get(f"/func/auth?echo={n}", timeout=aiohttp.ClientTimeout(total=10)) as answer:
                await answer.read()
                if answer.status != 200:
                    failed += 1
        except (TimeoutError, aiohttp.ClientError):
            failed += 1
        latencies.append(time.perf_counter() - started)

    tasks, started = [], time.monotonic()
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    ordered = sorted(latencies)
    return {
        "sent": len(ordered),
        "failed": failed,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max_ms": 1000 * ordered[-1],
    }


async def measure(stack: RunningStack, args: argparse.Namespace) -> dict:
    jar = aiohttp.CookieJar(unsafe=True)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(stack.base_url, cookie_jar=jar, connector=connector) as session:
        async with session.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as answer:
            assert answer.status == 200, await answer.text()
        await ordinary_load(session, args.rate, 2)  # warm-up: pools, caches
        rss_before = frontdoor_rss(stack)
        baseline = await ordinary_load(session, args.rate, args.phase)
        sockets, open_failed, open_seconds = await open_sockets(session, args.count, args.burst)
        try:
            await asyncio.sleep(2)  # let the workers settle after the burst (allocator, GC)
            # This client holds the other end of every socket: keep them out of its own full
            # collections, which took 0.2-0.4 s at 4,000 sockets and were measured as latency.
            gc.collect()
            gc.freeze()
            rss_after = frontdoor_rss(stack)
            loaded = await ordinary_load(session, args.rate, args.phase)
            closed = closed_codes(sockets)
            echoed = await echo_sample(sockets, 100)
        finally:
            await close_all(sockets)
    return {
        "opened": len(sockets),
        "open_failed": open_failed,
        "open_seconds": open_seconds,
        "rss_before_mib": rss_before / 2**20,
        "rss_after_mib": rss_after / 2**20,
        "rss_per_socket_kib": (rss_after - rss_before) / max(1, len(sockets)) / 1024,
        "baseline": baseline,
        "loaded": loaded,
        "echoed_of_100": echoed,
        "closed": closed,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=10_000, help="idle WebSockets to open")
    parser.add_argument("--workers", type=int, default=2, help="front-door workers")
    parser.add_argument("--rate", type=float, default=50, help="ordinary requests per second")
    parser.add_argument("--phase", type=float, default=10, help="seconds of ordinary requests per phase")
    parser.add_argument("--burst", type=int, default=200, help="handshakes under way at once")
    parser.add_argument("--max-seconds", type=float, default=600, help="give up after this long")
    args = parser.parse_args()
    try:
        limit = raise_fd_limit(args.count)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    bounds = f"\n[security]\nwebsocket_max_per_session = {args.count}\nwebsocket_max_per_worker = {args.count}\n"
    with tempfile.TemporaryDirectory(prefix="webui-host-wsbench-") as directory:
        stack = RunningStack(Path(directory), extra_config=bounds, workers=args.workers, log_level="WARNING").start()
        try:
            result = asyncio.run(asyncio.wait_for(measure(stack, args), args.max_seconds))
        finally:
            stack.stop()
    base, loaded = result["baseline"], result["loaded"]
    print(f"open-files limit {limit}; {args.workers} front-door workers; ordinary load {args.rate:g} req/s")
    print(
        f"opened {result['opened']}/{args.count} WebSockets in {result['open_seconds']:.1f} s "
        f"({result['open_failed']} failed); echo on 100 sampled: {result['echoed_of_100']}; "
        f"closed meanwhile (by close code): {result['closed'] or 'none'}"
    )
    print(
        f"front-door RSS {result['rss_before_mib']:.0f} -> {result['rss_after_mib']:.0f} MiB: "
        f"{result['rss_per_socket_kib']:.1f} KiB per idle WebSocket"
    )
    for name, phase in (("no WebSockets", base), (f"{result['opened']} open", loaded)):
        print(
            f"ordinary requests, {name}: sent {phase['sent']}, failed {phase['failed']}, p50 "
            f"{phase['p50_ms']:.1f} ms, p99 {phase['p99_ms']:.1f} ms, max {phase['max_ms']:.1f} ms"
        )
    healthy = result["echoed_of_100"] == {"echo": 100} and not result["closed"]
    return 0 if result["open_failed"] == 0 and loaded["failed"] == 0 and healthy else 1


if __name__ == "__main__":
    sys.exit(main())
