"""Driving one server under test (or the upstream directly) with wrk and accounting for its CPU,
memory and upstream calls while it runs."""

from __future__ import annotations

from dataclasses import dataclass, field

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
    process = upstream.process()
    sampler = MemorySampler(lambda: [process])
    sampler.start()
    try:
        run_wrk(upstream.url + UPSTREAM_PATH, {}, max(connections), 1)  # warm up
        for count in connections:
            calls_before = upstream.wait_quiet()
            before = processes.cpu_seconds([process])
            outcome = run_wrk(upstream.url + UPSTREAM_PATH, {}, count, duration)
            used = processes.cpu_seconds([process])[process.pid] - before[process.pid]
            calls = upstream.wait_quiet() - calls_before
            result.rows[count] = Row(count, outcome, {"upstream": used}, used, calls)
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
            result.rows[count] = _driven_row(target, upstream, url, headers, count, duration)
    finally:
        if sampler is not None:
            result.memory = sampler.stop()
        target.stop()
    return result


def _driven_row(
    target: Target, upstream: FastUpstream, url: str, headers: dict[str, str], count: int, duration: float
) -> Row:
    members = target.processes()
    kinds = processes.describe(members)
    upstream_process = upstream.process()
    calls_before = upstream.wait_quiet()
    before = processes.cpu_seconds(members)
    upstream_before = processes.cpu_seconds([upstream_process])[upstream_process.pid]
    outcome = run_wrk(url, headers, count, duration)
    after = processes.cpu_seconds(members)
    upstream_used = processes.cpu_seconds([upstream_process])[upstream_process.pid] - upstream_before
    calls = upstream.wait_quiet() - calls_before
    return Row(count, outcome, processes.cpu_by_kind(before, after, kinds), upstream_used, calls)
