"""webui-host as a server under test: ``webui-host run`` with its defaults and the embedded Redis and
etcd, everything on (request logs at INFO, metrics, rate limits, CSRF/CORS, security headers), the
Manager endpoint being the fast upstream.  Only the per-access-key rate limit is raised, so that the
one benchmark key is never refused."""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

from bench import processes
from bench.targets import FastUpstream
from tests.support.polling import eventually_sync
from tests.support.stack import RunningStack, StackPorts

# The only setting changed from the defaults besides ports and paths: wrk sends far more than 3,000
# requests a minute with one key.
BENCH_RATE_LIMIT = 1_000_000_000


def bench_config(directory: Path, ports: StackPorts, upstream_url: str, workers: int, signers: int) -> Path:
    path = directory / "webui-host.toml"
    path.write_text(
        f"""
[service]
port = {ports.frontdoor}
workers = {workers}

[signers]
count = {signers}

[api]
endpoint = ["{upstream_url}"]

[runtime]
state_dir = "{directory / "state"}"

[security.rate_limit]
requests = {BENCH_RATE_LIMIT}

[ops]
port = {ports.ops}

[embedded]
redis_port = {ports.redis}
etcd_port = {ports.etcd}
manager_port = {ports.manager}
"""
    )
    return path


class WebuiHost:
    def __init__(
        self, directory: Path, upstream_url: str, workers: int = 2, signers: int = 2, name: str = "webui-host"
    ):
        self.name = name
        self.settings = f"{workers} front-door workers, {signers} signers, embedded Redis + etcd"
        self._workers = workers
        self._stack = RunningStack(
            directory,
            config_writer=lambda where, ports: bench_config(where, ports, upstream_url, workers, signers),
        )
        self.base_url = self._stack.base_url
        self._seen: list[psutil.Process] = []

    def start(self) -> float:
        started = time.monotonic()
        # The readiness probe logs in and makes one proxied GET: the first proxied 200 (its logout
        # afterwards adds a millisecond or two).
        self._stack.start(timeout=90.0, poll_interval=0.05)
        seconds = time.monotonic() - started
        # Later front doors start once one serves: measure only when all of them take connections, or
        # wrk's connections all go to the first (the count a start takes is the figure above).
        eventually_sync(self._all_front_doors_listen, timeout=60, interval=0.05, what="every front door listening")
        self._seen = self.processes()
        return seconds

    def _all_front_doors_listen(self) -> bool:
        port = self._stack.ports.frontdoor
        members = self.processes()
        kinds = processes.describe(members)
        listening = 0
        for process in members:
            if kinds.get(process.pid) != "frontdoor":
                continue
            with contextlib.suppress(psutil.Error):
                held = process.net_connections(kind="tcp")
                listening += any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in held)
        return listening == self._workers

    def processes(self) -> list[psutil.Process]:
        pid = self._stack.launcher_pid
        return processes.tree(pid) if pid is not None else []

    def stop(self) -> None:
        self._stack.stop()


@contextlib.contextmanager
def started_in_front_of_a_fast_upstream(prefix: str) -> Iterator[WebuiHost]:
    """webui-host (its defaults) started in a temporary directory, proxying to a ``FastUpstream``;
    both stopped on the way out, whatever happened."""
    with tempfile.TemporaryDirectory(prefix=prefix) as directory:
        stack_directory = Path(directory) / "stack"
        stack_directory.mkdir()
        upstream = FastUpstream(Path(directory) / "upstream.log").start()
        try:
            target = WebuiHost(stack_directory, upstream.url)
            try:
                target.start()
                yield target
            finally:
                target.stop()
        finally:
            upstream.stop()


def measuring_main(
    doc: str, measure: Callable[[WebuiHost, list[int], int], None], prefix: str, connections: str, duration: int
) -> None:
    """The command line of a benchmark that runs ``measure`` against webui-host's defaults on the fast
    upstream: ``--connections`` (a comma list) and ``--duration`` (seconds per row)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", default=connections)
    parser.add_argument("--duration", type=int, default=duration)
    args = parser.parse_args()
    with started_in_front_of_a_fast_upstream(prefix) as target:
        measure(target, [int(c) for c in args.connections.split(",")], args.duration)
