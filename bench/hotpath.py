"""Where a proxied request's CPU goes: every process of ours, against a fast stand-in Manager.

Starts a development Manager (``python -m devstack``), a stand-in upstream in front of it (aiohttp +
uvloop: ``GET /auth`` answered at once with a small JSON, anything else, such as the login, passed to
the devstack), and the whole stack (``webui-host run``: 2 front doors, 2 signers, the session daemon,
supervisord, embedded Redis and etcd) with ``[api] endpoint`` set to the stand-in.  After one login it
drives ``wrk -t1`` at ``GET /func/auth?echo=bench`` with the session cookie and prints, per run: req/s,
p50/p99, and CPU milliseconds per request of each group of our processes (supervisord included: the
log lines of every process travel through its pipes), plus their idle CPU.

``--pyspy DIR`` also records every one of those processes at once with py-spy during one c=16 run
(collapsed stacks, ``DIR/<group>-<pid>.txt``; needs root and ``.venv/bin/py-spy``).

Usage: .venv/bin/python bench/hotpath.py [--connections 1,16,64] [--runs 3] [--duration 5] [--pyspy DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench import API_VERSION, login_cookie, wrk  # noqa: E402
from tests.support.ports import free_ports  # noqa: E402
from tests.support.stack import RunningStack  # noqa: E402

STAND_IN = """
import json, sys
import aiohttp, uvloop
from aiohttp import web

PORT, DEVSTACK = int(sys.argv[1]), sys.argv[2]
BODY = json.dumps({"authorized": "yes", "echo": "bench"}).encode()
DROPPED = ("content-length", "transfer-encoding", "content-encoding", "connection")

async def answer(request):
    return web.Response(body=BODY, content_type="application/json")

async def pass_on(request):
    headers = {k: v for k, v in request.headers.items() if k.lower() not in DROPPED}
    async with request.app["client"].request(request.method, DEVSTACK + request.raw_path, headers=headers,
                                             data=await request.read(), allow_redirects=False) as upstream:
        body = await upstream.read()
        kept = {k: v for k, v in upstream.headers.items() if k.lower() not in DROPPED}
        return web.Response(status=upstream.status, body=body, headers=kept)

async def client(app):
    app["client"] = aiohttp.ClientSession(auto_decompress=False)
    yield
    await app["client"].close()

app = web.Application()
app.cleanup_ctx.append(client)
app.router.add_get("/auth", answer)
app.router.add_route("*", "/{tail:.*}", pass_on)
web.run_app(app, host="127.0.0.1", port=PORT, loop=uvloop.new_event_loop(), access_log=None, print=None)
"""
GROUPS = ("frontdoor", "signers:", "session_daemon")


def process_groups(stack: RunningStack) -> dict[str, list[psutil.Process]]:
    groups = {"supervisord": [psutil.Process(stack._process.pid)]}  # `webui-host run` execs supervisord
    for name in GROUPS:
        groups[name.rstrip(":")] = [psutil.Process(pid) for pid in stack.pids(name)]
    return groups


def cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in processes)


def record_profiles(groups, directory: Path, url: str, headers: dict[str, str], duration: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    spies = [
        subprocess.Popen(
            [str(ROOT / ".venv/bin/py-spy"), "record", "--pid", str(p.pid), "--rate", "250"]
            + ["--duration", str(duration + 2), "--format", "raw", "--output", str(directory / f"{name}-{p.pid}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, processes in groups.items()
        for p in processes
    ]
    time.sleep(1)  # every recorder attached
    wrk(url, headers, 16, duration)
    for spy in spies:
        spy.wait()


def measure(stack: RunningStack, args: argparse.Namespace) -> None:
    cookie = login_cookie(stack)
    url = f"{stack.base_url}/func/auth?echo=bench"
    headers = {"Cookie": cookie, "X-BackendAI-Version": API_VERSION}
    wrk(url, headers, 16, 2)  # warm caches and connection pools
    groups = process_groups(stack)
    before = {name: cpu_seconds(processes) for name, processes in groups.items()}
    time.sleep(5)
    idle = {name: (cpu_seconds(processes) - before[name]) * 1000 / 5 for name, processes in groups.items()}
    print("idle CPU ms/s: " + ", ".join(f"{name} {ms:.1f}" for name, ms in idle.items()))
    if args.pyspy:
        record_profiles(groups, Path(args.pyspy), url, headers, args.duration)
    print("| conns | req/s | p50 ms | p99 ms | non-2xx | CPU ms/req ours | " + " | ".join(groups) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(groups))
    for connections in (int(c) for c in args.connections.split(",")):
        rows = []
        for _ in range(args.runs):
            before = {name: cpu_seconds(processes) for name, processes in groups.items()}
            result = wrk(url, headers, connections, args.duration)
            requests = max(result["requests"], 1)
            per_group = {name: (cpu_seconds(p) - before[name]) * 1000 / requests for name, p in groups.items()}
            rows.append((result, per_group))
        median = lambda values: statistics.median(values)  # noqa: E731
        per_group = {name: median([r[1][name] for r in rows]) for name in groups}
        print(
            f"| {connections} | {median([r[0]['rps'] for r in rows]):.0f} "
            f"| {median([r[0]['p50_ms'] for r in rows]):.2f} | {median([r[0]['p99_ms'] for r in rows]):.2f} "
            f"| {sum(r[0]['non_2xx'] for r in rows)} | {median([sum(r[1].values()) for r in rows]):.3f} | "
            + " | ".join(f"{per_group[name]:.3f}" for name in groups)
            + " |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--runs", type=int, default=3, help="runs per row; the row shows their medians")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--pyspy", default="", help="directory for py-spy recordings of every process")
    args = parser.parse_args()
    stand_in_port, devstack_port = free_ports(2)
    with tempfile.TemporaryDirectory(prefix="webui-host-hotpath-") as directory:
        devstack = subprocess.Popen(
            [sys.executable, "-m", "devstack", "--port", str(devstack_port)], stderr=subprocess.DEVNULL, cwd=ROOT
        )
        stand_in = subprocess.Popen(
            [sys.executable, "-c", STAND_IN, str(stand_in_port), f"http://127.0.0.1:{devstack_port}"], cwd=ROOT
        )
        stack = RunningStack(
            Path(directory), signers=2, workers=2, api_extra=f'endpoint = ["http://127.0.0.1:{stand_in_port}"]'
        )
        try:
            stack.start()
            measure(stack, args)
        finally:
            stack.stop()
            for process in (stand_in, devstack):
                process.terminate()
                process.wait()


if __name__ == "__main__":
    main()
