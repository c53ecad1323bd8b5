"""Driving one server under test (or the upstream directly) with wrk and accounting for its CPU,
memory and upstream calls while it runs."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psutil

from bench import processes
from bench.processes import MemoryPeaks, MemorySampler
from bench.targets import PROXIED_PATH, UPSTREAM_PATH, FastUpstream, Target, login_cookie, proxied_headers
from bench.wrk import WrkResult, run_wrk

DIRECT = "direct upstream"


@dataclass
class Row:
    """One wrk run at one concurrency, and what it cost."""

    connections: int
    wrk: WrkResult
    cpu_by_kind: dict[str, float]  # seconds, per process kind of the server under test
    upstream_cpu: float  # seconds used by the fast upstream meanwhile
    upstream_calls: int  # requests the fast upstream answered meanwhile
    busy_elsewhere: float = 0.0  # share of all cores busy with anything else (other users, the harness)
    busiest_share: float | None = None  # of wrk's connections, on the busiest of several front processes

    def per_request_ms(self, seconds: float) -> float:
        return seconds * 1000 / max(self.wrk.requests, 1)

    @property
    def server_cpu_ms(self) -> float:
        """CPU ms per request over the server's own processes (stores apart)."""
        own = sum(s for kind, s in self.cpu_by_kind.items() if not processes.is_store(kind))
        return self.per_request_ms(own)

    @property
    def store_cpu_ms(self) -> float:
        return self.per_request_ms(sum(s for kind, s in self.cpu_by_kind.items() if processes.is_store(kind)))

    @property
    def upstream_calls_per_request(self) -> float:
        return self.upstream_calls / max(self.wrk.requests, 1)


@dataclass
class TargetResult:
    name: str
    rows: dict[int, Row] = field(default_factory=dict)
    startup_seconds: float | None = None
    memory: MemoryPeaks | None = None
    settings: str = ""  # e.g. "2 front doors, 2 signers"

    @property
    def errors(self) -> int:
        return sum(row.wrk.errors for row in self.rows.values())


def measure_direct(upstream: FastUpstream, connections: list[int], duration: float) -> TargetResult:
    """wrk straight at the fast upstream: the floor.  Its own CPU counts as the server's."""
    result = TargetResult(DIRECT, settings="1 process, aiohttp + uvloop, no access log")
    sampler = MemorySampler(lambda: [upstream.process()])
    sampler.start()
    try:
        run_wrk(upstream.url + UPSTREAM_PATH, {}, max(connections), 1)  # warm up
        for count in connections:
            result.rows[count] = _measured_row([], upstream, upstream.url + UPSTREAM_PATH, {}, count, duration)
    finally:
        result.memory = sampler.stop()
    return result


def measure_target(
    target: Target, upstream: FastUpstream, connections: list[int], duration: float, warmup: float
) -> TargetResult:
    """Start ``target``, log in once, warm it up, drive it at each concurrency; always stop it."""
    result = TargetResult(target.name, settings=getattr(target, "settings", ""))
    sampler: MemorySampler | None = None
    try:
        result.startup_seconds = target.start()
        sampler = MemorySampler(target.processes)
        sampler.start()
        headers = proxied_headers(login_cookie(target.base_url))
        url = target.base_url + PROXIED_PATH
        run_wrk(url, headers, max(connections), warmup)  # pools, caches, lazy imports
        for count in connections:
            sampler.refresh()  # a process restarted meanwhile is followed
            result.rows[count] = _measured_row(target.processes(), upstream, url, headers, count, duration)
    finally:
        if sampler is not None:
            result.memory = sampler.stop()
        target.stop()
    return result


def _measured_row(
    members: list[psutil.Process],
    upstream: FastUpstream,
    url: str,
    headers: dict[str, str],
    count: int,
    duration: float,
) -> Row:
    """One wrk run; ``members``: the server's processes (none when wrk drives the upstream directly,
    whose CPU is then the server's)."""
    kinds = processes.describe(members)
    upstream_process = upstream.process()
    calls_before = upstream.wait_quiet()
    machine_before = processes.MachineClock.now()
    before = processes.cpu_seconds([*members, upstream_process])
    split: list[int] = []  # looked at halfway through, when every connection is open
    look = threading.Timer(
        duration / 2, lambda: split.extend(processes.connections_per_process(members, kinds, urlsplit(url).port))
    )
    look.start()
    outcome = run_wrk(url, headers, count, duration)
    look.join()
    after = processes.cpu_seconds([*members, upstream_process])
    machine = processes.MachineClock.now().since(machine_before)
    calls = upstream.wait_quiet() - calls_before
    upstream_used = after.pop(upstream_process.pid) - before.pop(upstream_process.pid)
    by_kind = processes.cpu_by_kind(before, after, kinds) if members else {"upstream": upstream_used}
    ours = sum(by_kind.values()) + (upstream_used if members else 0.0)
    share = processes.busiest_share(split)
    return Row(count, outcome, by_kind, upstream_used, calls, machine.share_elsewhere(ours), share)
