"""How often each signer is woken per proxied request, and its CPU per request, under wrk.

The same stack as ``bench.hotpath`` (``webui-host run`` with its defaults, ``bench/fast_upstream.py``
as the Manager, one login, ``wrk -t1`` at ``GET /func/auth?echo=bench``).  Per connection count, each
signer's voluntary context switches (one per wake-up: it slept waiting for a message) and CPU
divided by the requests served, and the front doors' CPU per request.  Wake-ups are a count, not a
time, so they show how requests are spread over the signers even on a busy machine.

Usage: .venv/bin/python -m bench.signer_wakeups [--connections 1,16,64] [--duration 5]
"""

from __future__ import annotations

import psutil

from bench import processes
from bench.targets import PROXIED_PATH, login_cookie, proxied_headers
from bench.webui_host_target import WebuiHost, measuring_main
from bench.wrk import run_wrk


def wakeups(process: psutil.Process) -> int:
    return process.num_ctx_switches().voluntary


def cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def measure(target: WebuiHost, connections: list[int], duration: int) -> None:
    url = target.base_url + PROXIED_PATH
    headers = proxied_headers(login_cookie(target.base_url))
    run_wrk(url, headers, 16, 2)  # warm caches and connection pools
    tree = target.processes()
    kinds = processes.describe(tree)
    signers = sorted((p for p in tree if kinds.get(p.pid) == "signer"), key=lambda p: p.pid)
    front_doors = [p for p in tree if kinds.get(p.pid) == "frontdoor"]
    print(
        "| conns | req/s | p99 ms | errors: non-2xx / socket | wake-ups per request, each signer "
        "| signer CPU ms/req, each | front doors ms/req |"
    )
    print("|---|---|---|---|---|---|---|")
    for count in connections:
        woken, spent, front = [wakeups(p) for p in signers], [cpu(p) for p in signers], sum(map(cpu, front_doors))
        result = run_wrk(url, headers, count, duration)
        served = max(result.requests, 1)
        print(
            f"| {count} | {result.rps:.0f} | {result.p99_ms:.1f} | {result.non_2xx} / {result.socket_errors} "
            f"| {' / '.join(f'{(wakeups(p) - w) / served:.2f}' for p, w in zip(signers, woken))} "
            f"| {' / '.join(f'{(cpu(p) - s) * 1000 / served:.3f}' for p, s in zip(signers, spent))} "
            f"| {(sum(map(cpu, front_doors)) - front) * 1000 / served:.3f} |",
            flush=True,
        )


def main() -> None:
    measuring_main(__doc__, measure, "webui-host-wakeups-", connections="1,16,64", duration=5)


if __name__ == "__main__":
    main()
