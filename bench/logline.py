"""Interleaved micro-benchmarks of two periodic/per-request costs of a front door, this checkout against
another (``--baseline DIR``, e.g. a worktree of main), their modules loaded side by side in one process
and run in turn, each figure the best of its repeats (``process_time``: this process's CPU only).

- ``line``: the request log line, the middleware's fields through to the batched handler's buffer
  (the baseline's ``Logger.info`` with its ``jsonlog``; this checkout's ``LineLogger`` when it has one);
  µs per line.
- ``sync``: ``BatchedLimiter.sync`` against a redis-server of its own, one key, with five admissions
  since the last sync and with no request since; µs per sync.
- ``idle``: the CPU of a limiter's ``run`` task with one key in use and no requests, over 3 s; ms/s.

Usage: .venv/bin/python -m bench.logline {line,sync,idle} --baseline /work/main [--repeats N]
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Callable

LINES, SYNCS = 5000, 300
KEY, LIMIT = "AKIABENCH", 10**9


class Discard:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def load(name: str, path: Path) -> ModuleType:
    """A module of the other checkout under its own name (its own imports resolve to this checkout's)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def request_fields() -> dict:
    return {
        "event": "proxy_request",
        "request_id": "0123456789abcdef",
        "method": "GET",
        "path": "/func/server/login-check",
        "status": "success",
        "status_code": 200,
        "user_id": "u@example.com",
        "duration_ms": 1.23,
    }


def line_writers(baseline: Path) -> dict:
    from service_runtime import jsonlog

    other = load("baseline_jsonlog", baseline / "service_runtime/jsonlog.py")
    logging._srcfile = None  # as setup_logging sets the logging module up
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    root, log = logging.getLogger(), logging.getLogger("frontdoor.requests")
    root.setLevel(logging.INFO)

    def handler(module: ModuleType) -> logging.Handler:
        made = module.BatchedStreamHandler(Discard())
        made.addFilter(module.scrub_request_bytes)
        made.setFormatter(module.JsonFormatter("frontdoor"))
        return made

    def writer(made: logging.Handler, write: Callable[[dict], None]) -> Callable[[], None]:
        def run() -> None:
            root.handlers[:] = [made]
            for _ in range(LINES):
                if log.isEnabledFor(logging.INFO):
                    write(request_fields())

        return run

    ours = log.info
    try:
        from service_runtime.linelog import LineLogger

        ours = LineLogger(log).info
        label = "LineLogger"
    except ImportError:
        label = "Logger.info"
    return {
        "baseline Logger.info": writer(handler(other), lambda fields: log.info("request", extra=fields)),
        f"this {label}": writer(handler(jsonlog), lambda fields: ours("request", fields)),
    }


async def measure_lines(baseline: Path, repeats: int) -> None:
    writers, best = line_writers(baseline), {}
    for _ in range(repeats):
        for name, run in writers.items():
            started = time.process_time()
            run()
            best[name] = min(best.get(name, 1e9), (time.process_time() - started) / LINES * 1e6)
    print("µs per line: " + ", ".join(f"{name} {value:.2f}" for name, value in best.items()))


def limiter_modules(baseline: Path) -> dict[str, ModuleType]:
    from frontdoor import ratelimit_batched

    return {
        "baseline": load("baseline_ratelimit_batched", baseline / "frontdoor/ratelimit_batched.py"),
        "this": ratelimit_batched,
    }


async def redis_client(port: int):
    import redis.asyncio as aioredis

    client = aioredis.Redis(port=port)
    for _ in range(200):
        try:
            await client.ping()
            return client
        except OSError:
            await asyncio.sleep(0.05)  # noqa: ASYNC110 - redis-server starting
    raise RuntimeError("redis-server did not start")


async def measure_syncs(client, modules: dict[str, ModuleType], repeats: int) -> None:
    best: dict[tuple[str, str], float] = {}
    limiters = {name: module.BatchedLimiter(client, 60, 0.1) for name, module in modules.items()}
    for _ in range(repeats):
        for case in ("5 admitted", "no request"):
            for name, limiter in limiters.items():
                started = time.process_time()
                for _ in range(SYNCS):
                    for _ in range(5 if case == "5 admitted" else 0):
                        limiter.check(KEY + name, LIMIT)
                    await limiter.sync()
                used = time.process_time() - started
                if case == "5 admitted":  # the checks' own cost aside
                    started = time.process_time()
                    for _ in range(5 * SYNCS):
                        limiter.check(KEY + name, LIMIT)
                    used -= time.process_time() - started
                best[(case, name)] = min(best.get((case, name), 1e9), used / SYNCS * 1e6)
    print("µs per sync: " + ", ".join(f"{case} {name} {value:.0f}" for (case, name), value in best.items()))


async def measure_idle(client, modules: dict[str, ModuleType], repeats: int) -> None:
    used: dict[str, list[float]] = {name: [] for name in modules}
    for _ in range(repeats):
        for name, module in modules.items():
            limiter = module.BatchedLimiter(client, 60, 0.1)
            await limiter.admit(KEY, LIMIT)
            task = asyncio.create_task(limiter.run())
            await asyncio.sleep(0.25)  # its first syncs: the admission goes out
            started = time.process_time()
            await asyncio.sleep(3)
            used[name].append((time.process_time() - started) / 3 * 1000)
            task.cancel()
    print(
        "idle ms/s: " + ", ".join(f"{name} " + " / ".join(f"{v:.2f}" for v in values) for name, values in used.items())
    )


async def against_redis(measure, port: int, baseline: Path, repeats: int) -> None:
    client = await redis_client(port)
    try:
        await measure(client, limiter_modules(baseline), repeats)
    finally:
        await client.aclose()


def with_redis(measure, baseline: Path, repeats: int) -> None:
    with socket.socket() as probe:  # a free port for redis-server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        command = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", directory]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        try:
            asyncio.run(against_redis(measure, port, baseline, repeats))
        finally:
            server.terminate()
            server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("line", "sync", "idle"))
    parser.add_argument("--baseline", type=Path, required=True, help="the other checkout")
    parser.add_argument("--repeats", type=int, default=0, help="default: line 21, sync 7, idle 3")
    args = parser.parse_args()
    repeats = args.repeats or {"line": 21, "sync": 7, "idle": 3}[args.what]
    if args.what == "line":
        asyncio.run(measure_lines(args.baseline, repeats))
    else:
        with_redis(measure_syncs if args.what == "sync" else measure_idle, args.baseline, repeats)


if __name__ == "__main__":
    main()
