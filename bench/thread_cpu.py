"""CPU per proxied request of each thread of our processes: the loop's thread apart from the others.

The others are libzmq's I/O thread (one per ZeroMQ context) and, in a front door, the executor's: what
the signing hop's transport costs outside the Python a profile shows.  The same stack as
``bench.hotpath`` (``webui-host run`` with its defaults, ``bench/fast_upstream.py`` as the Manager, one
login, ``wrk -t1`` at ``GET /func/auth?echo=bench``).  Per connection count, one row per process kind
and thread role (``main`` or ``other``), summed over the processes of that kind: user and system
milliseconds per request.

Usage: .venv/bin/python -m bench.thread_cpu [--connections 1,16] [--duration 6]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import psutil

from bench import processes
from bench.targets import PROXIED_PATH, login_cookie, proxied_headers
from bench.webui_host_target import WebuiHost, measuring_main
from bench.wrk import run_wrk

OURS = ("supervisord", "frontdoor", "signer", "session_daemon")
# (kind, pid, thread id) -> (user seconds, system seconds)
ThreadTimes = dict[tuple[str, int, int], tuple[float, float]]


def thread_times(tree: Iterable[psutil.Process], kinds: dict[int, str]) -> ThreadTimes:
    times: ThreadTimes = {}
    for process in tree:
        kind = kinds.get(process.pid)
        if kind not in OURS:
            continue
        try:
            threads = process.threads()
        except psutil.Error:  # (gone meanwhile)
            continue
        for thread in threads:
            times[(kind, process.pid, thread.id)] = (thread.user_time, thread.system_time)
    return times


def per_request(before: ThreadTimes, after: ThreadTimes, requests: int) -> dict[tuple[str, str], tuple[float, float]]:
    """(kind, "main" | "other") -> (user, system) milliseconds per request; threads seen both times only."""
    spent: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    for key, (user, system) in after.items():
        if key not in before:
            continue
        kind, pid, thread_id = key
        role = "main" if thread_id == pid else "other"
        spent[(kind, role)][0] += user - before[key][0]
        spent[(kind, role)][1] += system - before[key][1]
    scale = 1000 / max(requests, 1)
    return {key: (user * scale, system * scale) for key, (user, system) in sorted(spent.items())}


def measure(target: WebuiHost, connections: list[int], duration: int) -> None:
    url = target.base_url + PROXIED_PATH
    headers = proxied_headers(login_cookie(target.base_url))
    run_wrk(url, headers, 16, 2)  # warm caches and connection pools
    tree = target.processes()
    kinds = processes.describe(tree)
    print("| conns | req/s | kind | threads | user ms/req | system ms/req |")
    print("|---|---|---|---|---|---|")
    for count in connections:
        before = thread_times(tree, kinds)
        result = run_wrk(url, headers, count, duration)
        rows = per_request(before, thread_times(tree, kinds), result.requests)
        for (kind, role), (user, system) in rows.items():
            print(f"| {count} | {result.rps:.0f} | {kind} | {role} | {user:.3f} | {system:.3f} |", flush=True)


def main() -> None:
    measuring_main(__doc__, measure, "webui-host-threads-", connections="1,16", duration=6)


if __name__ == "__main__":
    main()
