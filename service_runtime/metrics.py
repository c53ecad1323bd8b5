"""Prometheus in prometheus-client's multiprocess mode: one scrape shows every process of a host.

Each process writes its samples to mmap files in one shared directory (``PROMETHEUS_MULTIPROC_DIR``;
the launcher sets it to ``<state_dir>/metrics`` and empties it at every start, on Kubernetes it is an
emptyDir shared by the pod's containers).  The ops listener reads them all at scrape time.

Files are named after a stable process identifier (``<role>-<instance>``), not the PID: containers of
a pod each have their own PID namespace, where the main process is often PID 1.  A restarted process
reopens its own files, so its counters continue (monotonic) and it clears its old live gauges first.

The directory and identifier must be chosen before any metric exists (prometheus-client picks a
metric's storage when it makes it, process-wide): ``Metrics.enable`` chooses them, then builds the
process's ``Instruments``, the one object its components record with.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # prometheus-client takes ~60 ms to import: the launcher, which only wipes the directory, skips it
    from prometheus_client import CollectorRegistry

    from service_runtime.instruments import Instruments

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR_NAME = "metrics"
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9.-]{0,63}$")  # no '_': prometheus-client splits file names on it


def metrics_dir(state_dir: Path) -> Path:
    return state_dir / METRICS_DIR_NAME


def process_identifier(role: str, instance: str | int) -> str:
    identifier = f"{role}-{instance}".lower().replace("_", "-")
    if not _IDENTIFIER.match(identifier):
        raise ValueError(f"{identifier!r} cannot name metric files")
    return identifier


def enable_multiprocess(state_dir: Path, identifier: str) -> Path:
    """Point prometheus-client at the host's metrics directory under this process's identifier."""
    path = Path(os.environ.get(MULTIPROC_ENV) or metrics_dir(state_dir))
    os.environ[MULTIPROC_ENV] = str(path)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    from prometheus_client import multiprocess

    from service_runtime.metric_values import use_buffered_values

    use_buffered_values(identifier)
    # Live gauges of a previous run of this process would otherwise be summed with ours.
    try:
        multiprocess.mark_process_dead(identifier, str(path))
    except FileNotFoundError:
        pass  # already removed (by the launcher's reset or a sibling's clean exit)
    return path


def multiprocess_path() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def render_latest(own: CollectorRegistry) -> tuple[bytes, str]:
    """The exposition text of every process sharing the directory (or of ``own`` alone, without one)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

    path = multiprocess_path()
    if path is None:
        return generate_latest(own), CONTENT_TYPE_LATEST
    from service_runtime.metric_values import PROCESS_BUFFER

    PROCESS_BUFFER.flush()  # this process's newest samples; the others' are at most FLUSH_INTERVAL old
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def wipe_metrics_dir(state_dir: Path) -> None:
    """Start a host with no samples from an earlier run (e.g. of workers that no longer exist)."""
    path = metrics_dir(state_dir)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o700)


@dataclass(frozen=True)
class Metrics:
    """This process's metrics set-up, made once by the process skeleton: its files and its instruments."""

    role: str
    identifier: str
    path: Path
    instruments: Instruments

    @classmethod
    def enable(cls, state_dir: Path, role: str, instance: str | int = 0) -> Metrics:
        from service_runtime.instruments import Instruments

        identifier = process_identifier(role, instance)
        path = enable_multiprocess(state_dir, identifier)
        return cls(role, identifier, path, Instruments(role))  # after the files are chosen

    def forget_own_live_gauges(self) -> None:
        """At a clean exit: this process's live gauges leave the sums (its counters stay)."""
        from prometheus_client import multiprocess

        from service_runtime.metric_values import PROCESS_BUFFER

        PROCESS_BUFFER.flush()  # its counters' last samples
        multiprocess.mark_process_dead(self.identifier, str(self.path))

    def render(self) -> tuple[bytes, str]:
        return render_latest(self.instruments.registry)
