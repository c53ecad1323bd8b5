"""CPU time and resident memory of every process of a server under test, by process kind.

A server under test is a process tree (``webui-host run`` and what it starts; the original webserver's
master and workers) plus, for fairness, its stores (Redis, etcd): ours are embedded in the tree, the
original's Redis is started beside it.  Stores are reported apart from the server's own processes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

STORE_KINDS = ("redis-server", "etcd")

# (substring of the command line, kind): the first that matches names the process.
KIND_MARKERS = (
    ("bench.floor_proxy", "floor proxy"),
    ("bench.floor_signer", "floor signer"),
    ("fast_upstream", "upstream"),
    ("redis-server", "redis-server"),
    ("etcd", "etcd"),
    ("supervisord", "supervisord"),
    ("frontdoor", "frontdoor"),
    ("signer_worker", "signer"),
    ("session_daemon", "session_daemon"),
    ("webui-host", "launcher"),
    ("webui_host", "launcher"),
    ("webserver worker", "worker"),  # the original's setproctitle names
    ("backend.ai: webserver", "master"),
    ("ai.backend.web.server", "master"),
)


# The checkout's own path names no kind (a worktree may be called "wt-frontdoor-...").
CHECKOUT = str(Path(__file__).resolve().parent.parent)


def kind_of(command_line: str, checkout: str = CHECKOUT) -> str:
    command_line = command_line.replace(checkout, "")
    for marker, kind in KIND_MARKERS:
        if marker in command_line:
            return kind
    return "other"


def is_store(kind: str) -> bool:
    return kind in STORE_KINDS


def tree(root_pid: int) -> list[psutil.Process]:
    """The root and all its descendants that are alive now."""
    try:
        root = psutil.Process(root_pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def describe(processes: Iterable[psutil.Process]) -> dict[int, str]:
    """pid -> kind, for the processes still alive."""
    kinds = {}
    for process in processes:
        try:
            kinds[process.pid] = kind_of(" ".join(process.cmdline()) or process.name())
        except psutil.Error:
            continue
    return kinds


SERVING_KINDS = ("frontdoor", "worker", "floor proxy")  # processes that share the listening port (SO_REUSEPORT, forked)


def busiest_share(connections_per_process: list[int]) -> float | None:
    """The share of the client's connections held by the process holding most of them, where several
    processes serve one port (how the kernel split wrk's connections varies from run to run, and CPU
    per request with it); None with one serving process or none connected."""
    total = sum(connections_per_process)
    return max(connections_per_process) / total if len(connections_per_process) > 1 and total else None


def connections_per_process(processes: Iterable[psutil.Process], kinds: dict[int, str], port: int) -> list[int]:
    """Established TCP connections on local ``port`` held by each serving process (``SERVING_KINDS``)."""
    counts = []
    for process in processes:
        if kinds.get(process.pid) not in SERVING_KINDS:
            continue
        try:
            held = process.net_connections(kind="tcp")
        except psutil.Error:
            continue
        counts.append(sum(1 for c in held if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port))
    return counts


def cpu_seconds(processes: Iterable[psutil.Process]) -> dict[int, float]:
    """pid -> user + system seconds so far."""
    used = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        used[process.pid] = times.user + times.system
    return used


def cpu_by_kind(before: dict[int, float], after: dict[int, float], kinds: dict[int, str]) -> dict[str, float]:
    """Seconds used between two snapshots, summed per kind (a process born in between counts whole)."""
    spent: dict[str, float] = {}
    for pid, seconds in after.items():
        kind = kinds.get(pid, "other")
        spent[kind] = spent.get(kind, 0.0) + seconds - before.get(pid, 0.0)
    return spent


@dataclass
class MemoryPeaks:
    """Peaks of summed RSS in bytes: of the server's own processes, of its stores, and per kind."""

    server: int = 0
    stores: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # processes seen per kind

    def add_sample(self, rss_by_pid: dict[int, int], kinds: dict[int, str]) -> None:
        per_kind: dict[str, int] = {}
        count: dict[str, int] = {}
        for pid, rss in rss_by_pid.items():
            kind = kinds.get(pid, "other")
            per_kind[kind] = per_kind.get(kind, 0) + rss
            count[kind] = count.get(kind, 0) + 1
        for kind, rss in per_kind.items():
            self.by_kind[kind] = max(self.by_kind.get(kind, 0), rss)
            self.counts[kind] = max(self.counts.get(kind, 0), count[kind])
        self.server = max(self.server, sum(rss for kind, rss in per_kind.items() if not is_store(kind)))
        self.stores = max(self.stores, sum(rss for kind, rss in per_kind.items() if is_store(kind)))

    @property
    def server_processes(self) -> int:
        return sum(count for kind, count in self.counts.items() if not is_store(kind))


class MemorySampler(threading.Thread):
    """Samples the RSS of the processes ``current()`` returns, every ``interval`` seconds, until stopped.

    ``current`` is asked again only when ``refresh()`` is called: walking /proc for a process tree is
    not free, and the sampler shares the cores with the server it measures."""

    def __init__(self, current: Callable[[], list[psutil.Process]], interval: float = 0.1):
        super().__init__(daemon=True, name="rss-sampler")
        self._current = current
        self._interval = interval
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self.peaks = MemoryPeaks()
        self.refresh()

    def refresh(self) -> None:
        processes = self._current()
        kinds = describe(processes)
        with self._lock:
            self._processes, self._kinds = processes, kinds

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self._interval)

    def sample(self) -> None:
        with self._lock:
            processes, kinds = self._processes, self._kinds
        rss = {}
        for process in processes:
            try:
                rss[process.pid] = process.memory_info().rss
            except psutil.Error:
                continue
        self.peaks.add_sample(rss, kinds)

    def stop(self) -> MemoryPeaks:
        self._halt.set()
        if self.is_alive():
            self.join()
        self.sample()
        return self.peaks


@dataclass(frozen=True)
class MachineClock:
    """System-wide busy CPU seconds, wall time and our reaped children's CPU (wrk), at one moment or
    between two."""

    busy: float
    wall: float
    children: float

    @classmethod
    def now(cls) -> MachineClock:
        t = psutil.cpu_times()
        # Processes' time only, as the measured side is: interrupt time (the loopback traffic's own
        # softirq work among it) belongs to no process; guest time is already inside user.
        busy = t.user + t.nice + t.system
        mine = os.times()
        return cls(busy, time.monotonic(), mine.children_user + mine.children_system)

    def since(self, earlier: MachineClock) -> MachineClock:
        return MachineClock(self.busy - earlier.busy, self.wall - earlier.wall, self.children - earlier.children)

    def share_elsewhere(self, measured: float, cpus: int | None = None) -> float:
        """Share of all cores busy with neither ``measured`` seconds (the server, the upstream) nor wrk."""
        capacity = self.wall * (cpus or psutil.cpu_count() or 1)
        return max(0.0, self.busy - measured - self.children) / capacity if capacity > 0 else 0.0


def wait_gone(processes: list[psutil.Process], timeout: float) -> None:
    """Kill what is left of ``processes`` after ``timeout`` (they were asked to stop already)."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=5)
