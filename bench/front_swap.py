"""One front door of two checkouts, alternated in the same running stack: its CPU per proxied request.

The stack is ``bench/hotpath.py``'s (``webui-host run`` from this checkout, everything on, the fast
upstream as the Manager) with one front-door worker.  That worker is stopped through supervisorctl
and, in turn, a front door of ``--baseline`` and one of this checkout is started by hand with the
stopped worker's command line and environment (each checkout's own ``.venv``, so each imports its own
``frontdoor``), logged-in ``wrk -t1`` drives it, and its CPU per request is read from
``/proc`` (psutil).  The signer, the session daemon, supervisord and the upstream are the same for
both, so the difference is the front door's own.  Printed: per connection count, each run's figures
and the best of each checkout; with the load average.

Usage: .venv/bin/python -m bench.front_swap --baseline DIR [--connections 1,16] [--rounds 3] [--duration 4]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

from bench import processes
from bench.targets import PROXIED_PATH, FastUpstream, login_cookie, proxied_headers
from bench.webui_host_target import WebuiHost
from bench.wrk import run_wrk

ROOT = Path(__file__).resolve().parent.parent


def front_door_command(target: WebuiHost) -> tuple[list[str], dict[str, str], str]:
    for proc in target.processes():
        if processes.kind_of(" ".join(proc.cmdline())) == "frontdoor":
            return proc.cmdline(), proc.environ(), proc.cwd()
    raise RuntimeError("no front door in the stack")


def in_checkout(command: list[str], checkout: Path) -> list[str]:
    """The same command with the checkout's own interpreter (its editable install is its code)."""
    python = str(checkout / ".venv/bin/python")
    return [python if re.search(r"/\.venv/bin/python[0-9.]*$", part) else part for part in command]


def wait_serving(base_url: str, headers: dict[str, str], timeout: float = 60.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(base_url + PROXIED_PATH, headers=headers)
            with urllib.request.urlopen(request, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the front door did not serve")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True)
    parser.add_argument("--connections", default="1,16")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4.0)
    args = parser.parse_args()
    connections = [int(c) for c in args.connections.split(",")]
    checkouts = {"baseline": args.baseline.resolve(), "this": ROOT}
    results: dict[tuple[str, int], list[tuple[float, float]]] = {}

    with tempfile.TemporaryDirectory(prefix="fswap-") as directory:
        upstream = FastUpstream(Path(directory) / "upstream.log").start()
        stack_dir = Path(directory) / "stack"
        stack_dir.mkdir()
        target = WebuiHost(stack_dir, upstream.url, workers=1, signers=1)
        try:
            target.start()
            cookie = login_cookie(target.base_url)
            headers = proxied_headers(cookie)
            command, env, cwd = front_door_command(target)
            target._stack.supervisorctl("stop", "frontdoor:*")
            for name, checkout in checkouts.items():
                print(f"front door of {name}:", " ".join(in_checkout(command, checkout)), flush=True)
            for round_number in range(args.rounds):
                for name, checkout in checkouts.items():
                    started = subprocess.Popen(
                        in_checkout(command, checkout),
                        env=env,
                        cwd=cwd,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    try:
                        wait_serving(target.base_url, headers)
                        front = [p for p in psutil.Process(started.pid).children(recursive=True)] + [
                            psutil.Process(started.pid)
                        ]
                        run_wrk(target.base_url + PROXIED_PATH, headers, 16, 1)  # warm-up
                        for c in connections:
                            before = sum(sum(p.cpu_times()[:2]) for p in front)
                            result = run_wrk(target.base_url + PROXIED_PATH, headers, c, args.duration)
                            used = sum(sum(p.cpu_times()[:2]) for p in front) - before
                            per = 1000 * used / max(1, result.requests)
                            results.setdefault((name, c), []).append((per, result.rps))
                            print(
                                f"round {round_number} {name:8s} c={c:<3d} {result.rps:8.0f} req/s "
                                f"front door {per:.3f} ms/req errors {result.errors} "
                                f"load {os.getloadavg()[0]:.2f}",
                                flush=True,
                            )
                    finally:
                        started.terminate()
                        started.wait(30)
        finally:
            target.stop()
            upstream.stop()
    for c in connections:
        for name in checkouts:
            runs = results[(name, c)]
            print(
                f"c={c:<3d} {name:8s} best {min(r[0] for r in runs):.3f} ms/req; runs "
                + ", ".join(f"{r[0]:.3f}" for r in runs)
            )


if __name__ == "__main__":
    main()
