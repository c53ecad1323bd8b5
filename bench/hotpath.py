"""Where a proxied request's CPU goes, process by process, with py-spy on all of them at once.

The same server under test and upstream as ``bench/run.sh compare`` (``webui_host_target.WebuiHost``:
``webui-host run`` with its defaults, everything on; ``bench/fast_upstream.py`` as the Manager), one
login, then ``wrk -t1`` at ``GET /func/auth?echo=bench`` with the session cookie.  Printed: the idle CPU
of each kind of process, then per connection count the medians of ``--runs`` runs: req/s, p50/p99 and
CPU milliseconds per request of each kind (supervisord included: every process's log lines travel
through its pipes).

``--pyspy DIR`` also records every process of the tree during one c=16 run (``--pyspy-connections``) with
``py-spy record --gil`` (collapsed stacks, ``DIR/<kind>-<pid>.txt``; needs root and ``.venv/bin/py-spy``).
``--gil`` matters: without it, time a process spends idle in uvloop is counted as ``Runner.run``.

Usage: .venv/bin/python -m bench.hotpath [--connections 1,16,64] [--runs 3] [--duration 5] [--pyspy DIR]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from pathlib import Path

from bench import processes
from bench.targets import PROXIED_PATH, login_cookie, proxied_headers
from bench.webui_host_target import WebuiHost, started_in_front_of_a_fast_upstream
from bench.wrk import run_wrk

ROOT = Path(__file__).resolve().parent.parent
OURS = ("supervisord", "frontdoor", "signer", "session_daemon")


def cpu_by_kind(target: WebuiHost, action) -> tuple[object, dict[str, float]]:
    """What ``action`` returns, and the CPU seconds each kind of process used meanwhile."""
    tree = target.processes()
    kinds, before = processes.describe(tree), processes.cpu_seconds(tree)
    result = action()
    return result, processes.cpu_by_kind(before, processes.cpu_seconds(tree), kinds)


def record_profiles(
    target: WebuiHost, directory: Path, url: str, headers: dict[str, str], duration: int, connections: int = 16
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    kinds = processes.describe(target.processes())
    spies = [
        subprocess.Popen(
            [str(ROOT / ".venv/bin/py-spy"), "record", "--gil", "--pid", str(pid), "--rate", "250"]
            + ["--duration", str(duration + 2), "--format", "raw", "--output", str(directory / f"{kind}-{pid}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid, kind in kinds.items()
        if kind in OURS
    ]
    time.sleep(1)  # every recorder attached
    run_wrk(url, headers, connections, duration)
    for spy in spies:
        spy.wait()


def measure(target: WebuiHost, args: argparse.Namespace) -> None:
    url = target.base_url + PROXIED_PATH
    headers = proxied_headers(login_cookie(target.base_url))
    run_wrk(url, headers, 16, 2)  # warm caches and connection pools
    _, idle = cpu_by_kind(target, lambda: time.sleep(5))
    print("idle CPU ms/s: " + ", ".join(f"{kind} {idle.get(kind, 0.0) * 200:.1f}" for kind in OURS))
    if args.pyspy:
        record_profiles(target, Path(args.pyspy), url, headers, args.duration, args.pyspy_connections)
    print("| conns | req/s | p50 ms | p99 ms | errors | CPU ms/req, ours | " + " | ".join(OURS) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(OURS))
    for connections in (int(c) for c in args.connections.split(",")):
        drive = lambda connections=connections: run_wrk(url, headers, connections, args.duration)  # noqa: E731
        runs = [cpu_by_kind(target, drive) for _ in range(args.runs)]
        per_kind = {
            kind: statistics.median(spent.get(kind, 0.0) * 1000 / max(result.requests, 1) for result, spent in runs)
            for kind in OURS
        }
        total = statistics.median(
            sum(spent.get(kind, 0.0) for kind in OURS) * 1000 / max(result.requests, 1) for result, spent in runs
        )
        results = [result for result, _ in runs]
        print(
            f"| {connections} | {statistics.median(r.rps for r in results):.0f} "
            f"| {statistics.median(r.p50_ms for r in results):.2f} | {statistics.median(r.p99_ms for r in results):.2f} "
            f"| {sum(r.errors for r in results)} | {total:.3f} | "
            + " | ".join(f"{per_kind[kind]:.3f}" for kind in OURS)
            + " |",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", default="1,16,64")
    parser.add_argument("--runs", type=int, default=3, help="runs per row; the row shows their medians")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--pyspy", default="", help="directory for py-spy recordings of every process")
    parser.add_argument("--pyspy-connections", type=int, default=16, help="wrk connections while recording")
    args = parser.parse_args()
    with started_in_front_of_a_fast_upstream("webui-host-hotpath-") as target:
        measure(target, args)


if __name__ == "__main__":
    main()
