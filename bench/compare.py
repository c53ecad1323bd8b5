"""Side by side: the fast upstream directly, the original Backend.AI webserver 23.9.10 and webui-host.

  compare  the three (or those named by --servers) at each --connections, one after the other, on
           one fast upstream (bench/fast_upstream.py); prints the table of issue #15, a per-process
           table, the command and the machine's facts.  Optional, by --servers: floor-proxy (a
           minimal aiohttp proxy, bench/floor_proxy.py) and floor-signed (the same with one ZeroMQ
           round trip per request to a minimal signer): the floor of a Python proxy hop;
           floor-signed-2x2 (two of those proxies on one port and two signers: the defaults' shape); and
           webui-host-1x1 (webui-host with one front door and one signer, everything else on: the
           floor-signed's own shape, so that the two differ by the product's work alone).
  scaling  webui-host with 1, 2, 4 front-door workers (2 signers), then 1, 2, 4 signers (2 front
           doors), or the whole grid with --grid, against the same upstream.

Every server is started by the harness on free loopback ports and stopped by it, also on Ctrl-C or
an error; the original webserver is installed first into .bench/original-venv if it is not there.
wrk -t1 --latency keep-alive drives GET /func/auth?echo=bench with one logged-in session cookie;
every request is signed by the server under test.  wrk, the upstream and the server share the cores.

Usage: bench/run.sh compare|scaling [--duration S] [--connections 1,16,64] [...]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from bench import machine
from bench.floor_target import FloorServer
from bench.measure import TargetResult, measure_direct, measure_target
from bench.original_webserver import DEFAULT_VENV, OriginalWebserver, ensure_installed
from bench.report import comparison_table, process_table, scaling_table
from bench.targets import FastUpstream
from bench.webui_host_target import WebuiHost

SERVERS = ("direct", "original", "webui-host")
# optional: the floor of a Python proxy hop (bench/floor_proxy.py), as (proxies, signers)
FLOOR_SHAPES = {"floor-proxy": (1, 0), "floor-signed": (1, 1), "floor-signed-2x2": (2, 2)}
FLOORS = tuple(FLOOR_SHAPES)
FLOOR_SHAPE = "webui-host-1x1"  # optional: webui-host in floor-signed's shape (one front door, one signer)


def integers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=("compare", "scaling"))
    parser.add_argument("--duration", type=float, default=10, help="seconds of wrk per row (whole seconds)")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of wrk before a server's first row")
    parser.add_argument("--connections", type=integers, default=None, help="default 1,16,64 (scaling: 16,64)")
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS),
        help=f"compare: a subset of {','.join(SERVERS + FLOORS + (FLOOR_SHAPE,))}",
    )
    parser.add_argument("--workers", type=integers, default=None, help="front-door workers (compare: 2)")
    parser.add_argument("--signers", type=integers, default=None, help="signers (compare: 2)")
    parser.add_argument("--grid", action="store_true", help="scaling: every workers x signers pair")
    parser.add_argument("--repeat", type=int, default=1, help="compare: rounds; the table shows low–high ranges")
    parser.add_argument("--original-venv", type=Path, default=DEFAULT_VENV)
    parser.add_argument("--json", type=Path, help="also write every figure there")
    parser.add_argument("--keep", action="store_true", help="keep the servers' directories and logs (path on stderr)")
    args = parser.parse_args(argv)
    unknown = set(args.servers.split(",")) - set(SERVERS + FLOORS + (FLOOR_SHAPE,))
    if unknown:
        parser.error(f"unknown --servers {sorted(unknown)}")
    if args.repeat < 1 or (args.repeat > 1 and args.mode != "compare"):
        parser.error("--repeat is a positive count, for compare only")
    if args.connections is None:
        args.connections = [1, 16, 64] if args.mode == "compare" else [16, 64]
    return args


def scaling_pairs(workers: list[int], signers: list[int], grid: bool) -> list[tuple[int, int]]:
    """(workers, signers) to run: each list against the other's default of 2, or the whole grid."""
    if grid:
        return [(w, s) for w in workers for s in signers]
    pairs = [(w, 2) for w in workers] + [(2, s) for s in signers]
    return list(dict.fromkeys(pairs))


def compare(args: argparse.Namespace, upstream: FastUpstream, directory: Path, round_: int) -> list[TargetResult]:
    """One round: each server in turn, alone on the machine with the upstream and wrk."""
    servers = args.servers.split(",")
    directory = _subdirectory(directory, f"round-{round_}")
    results = []
    if "direct" in servers:
        results.append(measure_direct(upstream, args.connections, args.duration))
    if "original" in servers:
        ensure_installed(args.original_venv)  # before the clock of its start runs
        target = OriginalWebserver(_subdirectory(directory, "original"), upstream.url, args.original_venv)
        results.append(measure_target(target, upstream, args.connections, args.duration, args.warmup))
    for floor in (name for name in FLOORS if name in servers):
        target = FloorServer(_subdirectory(directory, floor), upstream.url, *FLOOR_SHAPES[floor])
        results.append(measure_target(target, upstream, args.connections, args.duration, args.warmup))
    for name, workers, signers in webui_host_shapes(servers, args.workers, args.signers):
        target = WebuiHost(_subdirectory(directory, name.replace(" ", "-")), upstream.url, workers, signers, name)
        results.append(measure_target(target, upstream, args.connections, args.duration, args.warmup))
    return results


def webui_host_shapes(servers: list[str], workers: list[int] | None, signers: list[int] | None) -> list[tuple]:
    """(name, front doors, signers) of each webui-host to compare: its defaults (or ``--workers`` and
    ``--signers``) as "webui-host", and with ``webui-host-1x1`` one front door and one signer."""
    shapes = []
    if "webui-host" in servers:
        shapes.append(("webui-host", (workers or [2])[0], (signers or [2])[0]))
    if FLOOR_SHAPE in servers:
        shapes.append(("webui-host 1x1 (floor's shape)", 1, 1))
    return shapes


def scaling(args: argparse.Namespace, upstream: FastUpstream, directory: Path) -> tuple[TargetResult, list]:
    direct = measure_direct(upstream, args.connections, args.duration)
    runs = []
    for workers, signers in scaling_pairs(args.workers or [1, 2, 4], args.signers or [1, 2, 4], args.grid):
        name = f"webui-host {workers}x{signers}"  # front doors x signers: apart in the process table
        target = WebuiHost(_subdirectory(directory, name.replace(" ", "-")), upstream.url, workers, signers, name)
        runs.append((workers, signers, measure_target(target, upstream, args.connections, args.duration, args.warmup)))
    return direct, runs


def _run(args: argparse.Namespace, upstream: FastUpstream, directory: Path) -> tuple[list[str], list]:
    """The mode's tables (Markdown) and its figures (for --json)."""
    if args.mode == "compare":
        rounds = [compare(args, upstream, directory, n) for n in range(args.repeat)]
        return [comparison_table(rounds), process_table(rounds)], [[asdict(r) for r in rs] for rs in rounds]
    direct, runs = scaling(args, upstream, directory)
    figures = [asdict(direct)] + [{"workers": w, "signers": s, **asdict(r)} for w, s, r in runs]
    return [scaling_table(direct, runs), process_table([[r for _, _, r in runs]])], figures


def _subdirectory(directory: Path, name: str) -> Path:
    path = directory / name
    path.mkdir()
    return path


def _work_directory(keep: bool) -> contextlib.AbstractContextManager[str]:
    if keep:
        return contextlib.nullcontext(tempfile.mkdtemp(prefix="webui-host-bench-"))
    return tempfile.TemporaryDirectory(prefix="webui-host-bench-")


def _stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every ``finally`` stops what it started."""

    def unwind(signum: int, _frame) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, unwind)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    _stop_on_sigterm()
    command = os.environ.get("BENCH_COMMAND") or "python -m bench.compare " + " ".join(sys.argv[1:])
    facts = machine.facts(args.original_venv)
    with _work_directory(args.keep) as name:
        directory = Path(name)
        if args.keep:
            print(f"servers' directories and logs: {directory}", file=sys.stderr)
        upstream = FastUpstream(directory / "fast-upstream.log")
        try:
            upstream.start()
            tables, figures = _run(args, upstream, directory)
        except KeyboardInterrupt:
            print("interrupted: stopping what the harness started", file=sys.stderr)
            return 130
        except Exception:
            machine.print_log_tails(directory, sys.stderr)
            raise
        finally:
            upstream.stop()
    facts["load average after"] = machine.load_average()
    print(machine.header(args.mode, command, facts, args.duration))
    print("\n\n".join(tables))
    if args.json:
        args.json.write_text(json.dumps({"command": command, "machine": facts, "results": figures}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
