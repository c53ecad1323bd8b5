"""Benchmark: the development Manager directly vs through webui-host, on the same machine in one run
(``bench/run.sh devstack``; the headline figures come from ``bench/run.sh compare``, bench/compare.py).

Starts the whole stack (``webui-host run`` with the embedded Redis, etcd and devstack on free ports),
then drives ``wrk`` at 16 and 64 connections against
  - direct:  GET <manager>/auth?echo=bench, HMAC-signed once (the Manager accepts a signature for 15 min)
  - proxied: GET <frontdoor>/func/auth?echo=bench with a session cookie (signed per request by a signer)
and prints requests/s, p50/p99 latency, CPU milliseconds per proxied request summed over our processes
(front doors, signers, session daemon), the front door's peak RSS and Redis commands per request.

Usage: bench/run.sh devstack [--duration SECONDS] [--workers N] [--signers N]
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

from bench.wrk import run_wrk as wrk
from signer_worker.signing import signed_headers
from tests.support.stack import ADMIN_USER, RunningStack

ADMIN_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
ADMIN_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
API_VERSION = "v7.20230615"


def login_cookie(stack: RunningStack) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = json.dumps({"username": ADMIN_USER[0], "password": ADMIN_USER[1]}).encode()
    request = urllib.request.Request(
        f"{stack.base_url}/server/login", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    opener.open(request, timeout=10).close()
    cookie = next(c for c in jar if c.name == stack.config.session.cookie_name)
    return f"{cookie.name}={cookie.value}"


def our_processes(stack: RunningStack) -> list[psutil.Process]:
    pids = stack.pids("frontdoor") + stack.pids("signers:") + stack.pids("session_daemon")
    return [psutil.Process(pid) for pid in pids]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


class RssSampler(threading.Thread):
    def __init__(self, processes: list[psutil.Process]):
        super().__init__(daemon=True)
        self._processes = processes
        self.peak = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, max(p.memory_info().rss for p in self._processes))
            time.sleep(0.05)

    def stop(self) -> int:
        self._halt.set()
        self.join()
        return self.peak


def redis_commands(stack: RunningStack) -> int:
    stats = stack.admin_redis().info("commandstats")
    return sum(entry["calls"] for name, entry in stats.items() if name != "cmdstat_info")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--signers", type=int, default=2)
    parser.add_argument("--connections", default="1,16,64", help="comma-separated wrk connection counts")
    parser.add_argument("--log-level", default="INFO", help="INFO logs every request (the default in production)")
    parser.add_argument(
        "--no-rate-limit",
        action="store_true",
        help="turn the per-access-key rate limit off (it costs one Redis EVALSHA per request)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="webui-host-bench-") as directory:
        limits = {"rate_limits": "enabled = false"} if args.no_rate_limit else {}  # default: on, never tripping
        stack = RunningStack(
            Path(directory), signers=args.signers, workers=args.workers, log_level=args.log_level, **limits
        )
        stack.start()
        try:
            run(stack, args)
        finally:
            stack.stop()


def run(stack: RunningStack, args: argparse.Namespace) -> None:
    cookie = login_cookie(stack)
    host = f"127.0.0.1:{stack.ports.manager}"
    direct_headers = {"X-BackendAI-Version": API_VERSION, "Content-Type": "application/octet-stream"}
    direct_headers |= signed_headers(
        ADMIN_ACCESS_KEY, ADMIN_SECRET_KEY, "GET", "/auth?echo=bench", host, "application/octet-stream", API_VERSION
    )
    direct_url = f"{stack.manager_url}/auth?echo=bench"
    proxied_url = f"{stack.base_url}/func/auth?echo=bench"
    proxied_headers = {"Cookie": cookie, "X-BackendAI-Version": API_VERSION}
    wrk(proxied_url, proxied_headers, 16, 2)  # warm caches and connection pools
    processes = our_processes(stack)
    front = [p for p in processes if "frontdoor" in " ".join(p.cmdline())]
    rows = []
    for connections in (int(c) for c in args.connections.split(",")):
        direct = wrk(direct_url, direct_headers, connections, args.duration)
        sampler = RssSampler(front)
        sampler.start()
        cpu_before, redis_before = cpu_seconds(processes), redis_commands(stack)
        proxied = wrk(proxied_url, proxied_headers, connections, args.duration)
        cpu_used, redis_used = cpu_seconds(processes) - cpu_before, redis_commands(stack) - redis_before
        rows.append(
            (
                connections,
                direct,
                proxied,
                cpu_used * 1000 / max(proxied.requests, 1),
                redis_used / max(proxied.requests, 1),
                sampler.stop(),
            )
        )
    report(rows, args)


def report(rows, args) -> None:
    print(
        f"# webui-host benchmark: {args.workers} front-door workers, {args.signers} signers, "
        f"{psutil.cpu_count()} CPUs, wrk -t1 -d{args.duration}s, log level {args.log_level}"
    )
    print(
        "| conns | direct req/s | proxied req/s | ratio | direct p50/p99 ms | proxied p50/p99 ms "
        "| CPU ms/req (ours) | Redis cmds/req | front-door peak RSS MiB | proxied non-2xx |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for connections, direct, proxied, cpu_ms, redis_per_request, peak in rows:
        print(
            f"| {connections} | {direct.rps:.0f} | {proxied.rps:.0f} | {proxied.rps / direct.rps:.0%} "
            f"| {direct.p50_ms:.2f} / {direct.p99_ms:.2f} | {proxied.p50_ms:.2f} / {proxied.p99_ms:.2f} "
            f"| {cpu_ms:.2f} | {redis_per_request:.4f} | {peak / (1 << 20):.0f} | {proxied.non_2xx} |"
        )


if __name__ == "__main__":
    main()
