"""The one skeleton every process runs: load settings, build components, start, wait for a signal, stop.

``run_process`` owns what used to be written once per process: logging before and after the file is
read, the metrics directory, SIGTERM/SIGINT (stop) and SIGHUP (reload), and the exit code.  A process
supplies only ``build(process) -> Service``, handing ``process.instruments`` to the components that
record metrics; its components register a reload hook for every setting
they copied at start (``Process.on_reload``), so a reload applies what it reports as applied.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Awaitable, Callable, Protocol

from contract.config import Config, ConfigError
from service_runtime import background
from service_runtime.bounded_run import run_bounded
from service_runtime.instruments import Instruments
from service_runtime.jsonlog import flush_logs, setup_logging
from service_runtime.metric_values import flush_periodically
from service_runtime.metrics import Metrics
from service_runtime.reload import Reloader, ReloadHook, reload_from_file
from service_runtime.settings import Settings, load_settings
from service_runtime.start_cleanup import StartResources
from service_runtime.tracing import NoTracing, start_tracing

log = logging.getLogger(__name__)
START_FAILED = 1
BACKGROUND_FAILED = 1  # as a failed start: the supervisor starts the process again
BAD_CONFIG = 2


class Service(Protocol):
    """What a process runs: ``start`` returns once it serves; ``stop`` returns once it has stopped."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class Process:
    """What ``build`` gets: the settings, the metrics registry, reload hooks and a way to stop."""

    role: str
    settings: Settings
    config_path: Path | None
    metrics: Metrics
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    reload_hooks: list[ReloadHook] = field(default_factory=list)
    instance: str | int = 0
    # What the start made (ZeroMQ sockets, clients): closed at once if it fails (service_runtime.start_cleanup).
    resources: StartResources = field(default_factory=StartResources)
    exit_code: int = 0
    _tracing: NoTracing | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        return self.settings.config

    @property
    def instruments(self) -> Instruments:
        """The metrics this process's components record with (one object, built with the metric files)."""
        return self.metrics.instruments

    @property
    def tracing(self) -> NoTracing:
        """``[otel]``'s tracing of this process, started at its first use (``NO_TRACING`` when off)."""
        if self._tracing is None:
            self._tracing = start_tracing(self.config.otel, self.role, self.instance)
        return self._tracing

    async def close_tracing(self) -> None:
        if self._tracing is not None:
            await self._tracing.aclose()

    def on_reload(self, hook: ReloadHook) -> None:
        """Run ``hook(config)`` after every reload, with the config object updated in place."""
        self.reload_hooks.append(hook)

    async def reload(self) -> None:
        await reload_from_file(self.role, self.config_path, self.config, self.reload_hooks)

    def fail(self, exc: BaseException) -> None:
        """A start that ended in a background task (after ``start`` returned): log it, stop, exit non-zero."""
        log_start_failure(exc)
        self.exit_code = START_FAILED
        self.stopping.set()

    def background_failed(self, name: str, exc: BaseException) -> None:
        """A loop this process lives by died of an error (``service_runtime.background``): stop, exit 1."""
        if self.stopping.is_set():  # (its resources closing under it): the stop is under way anyway
            return
        background.log_failure(name, exc)
        self.exit_code = BACKGROUND_FAILED
        self.stopping.set()


Build = Callable[[Process], "Service | Awaitable[Service]"]


def run_process(role: str, config_path: Path | None, build: Build, instance: str | int = 0) -> int:
    """Run one process to its end under uvloop; the exit code (2: invalid configuration)."""
    setup_logging(role)  # until the file says otherwise, so start-up problems are logged as JSON too
    try:
        return run_bounded(_main(role, config_path, build, instance))  # (uvloop; no task holds the exit)
    except ConfigError as exc:
        flush_logs()  # the lines before it first
        print(exc, file=sys.stderr)
        return BAD_CONFIG
    finally:
        flush_logs()  # the last lines (buffered up to jsonlog's FLUSH_DELAY) before the exit code


async def _main(role: str, config_path: Path | None, build: Build, instance: str | int) -> int:
    settings = await load_settings(config_path)
    config = settings.config
    setup_logging(role, config.runtime.log_level, config.runtime.log_format)
    for warning in config.warnings:  # Backend.AI keys without effect here, by name (never silently)
        log.warning("configuration key ignored", extra={"event": "config_key_ignored", "key": warning})
    metrics = Metrics.enable(config.runtime.state_dir, role, instance)  # before any metric exists
    process = Process(role, settings, config_path, metrics, instance=instance)
    flushing = asyncio.create_task(flush_periodically())
    try:
        return await _serve(process, build)
    finally:
        flushing.cancel()
        await process.close_tracing()  # the spans of the last requests
        metrics.forget_own_live_gauges()


def imports_done() -> None:
    """The process has imported what it runs: collect garbage again, and never scan those objects.

    A process's ``__main__`` turns the cyclic collector off before its imports (``gc.disable()``):
    importing builds hundreds of thousands of objects that are never garbage, and the collections
    they trigger were ~15% of the import time. ``gc.freeze`` moves them out of every later
    collection's way; by the end of ``build`` the process has imported what it runs.
    """
    gc.freeze()
    gc.enable()


async def _serve(process: Process, build: Build) -> int:
    background.report_failures_to(process.background_failed)
    try:
        service = build(process)
        if asyncio.iscoroutine(service):
            service = await service
    except ConfigError:
        raise
    except Exception as exc:  # (a warning made an error too): one line, what was built closed, exit
        return await _start_failed(process, exc)
    finally:
        imports_done()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, process.stopping.set)
    reloader = Reloader(process.reload)
    loop.add_signal_handler(signal.SIGHUP, reloader.request)  # a reload must never kill the process
    try:
        await service.start()
    except Exception as exc:
        return await _start_failed(process, exc)
    try:
        await process.stopping.wait()
    finally:
        await reloader.wait()
        await service.stop()
    return process.exit_code


def log_start_failure(exc: BaseException) -> None:
    """The one line a failed start leaves: what failed, by type and message (never a traceback to read)."""
    log.error(
        "cannot start",
        extra={"event": "startup_failed", "error": str(exc) or type(exc).__name__, "error_type": type(exc).__name__},
    )


async def _start_failed(process: Process, exc: Exception) -> int:
    log_start_failure(exc)
    await process.resources.close_all()  # no ZeroMQ socket left for the collector to hang on
    return START_FAILED
