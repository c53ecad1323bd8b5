"""Start-up shared by every process: the file, etcd's cluster-wide settings, the Manager endpoints."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable

import uvloop

from contract.config import Config, ConfigError, load_config
from contract.jsonlog import setup_logging
from contract.etcd_layout import etcd_client, read_global_settings

log = logging.getLogger(__name__)
# Set by `webui-host run` for its processes when it starts the development Manager itself.
DEVSTACK_ENDPOINT_ENV = "WEBUI_HOST_DEVSTACK_ENDPOINT"


@dataclass(frozen=True)
class Settings:
    config: Config
    manager_endpoints: list[str]


async def load_settings(config_path: Path | None, etcd_wait: float = 10.0) -> Settings:
    """File first; etcd may override global settings and names the Manager when the file does not."""
    file_config = load_config(config_path)
    overrides, etcd_endpoints = await _read_etcd(file_config, etcd_wait)
    config = load_config(config_path, overrides) if overrides else file_config
    endpoints = config.api.endpoint or etcd_endpoints
    if not endpoints and os.environ.get(DEVSTACK_ENDPOINT_ENV):
        endpoints = [os.environ[DEVSTACK_ENDPOINT_ENV]]
    if not endpoints:
        raise ConfigError(["api.endpoint: no Manager is named in the file or in etcd (manager/endpoints)"])
    return Settings(config, endpoints)


async def _read_etcd(config: Config, wait: float) -> tuple[dict, list[str]]:
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        client = etcd_client(config)
        try:
            return await read_global_settings(client, config)
        except Exception as exc:  # aetcd raises several connection error types
            if asyncio.get_running_loop().time() >= deadline:
                log.warning(
                    "etcd unreachable; running with the file's settings",
                    extra={"event": "etcd_unreachable", "etcd": config.etcd_addr, "error": type(exc).__name__},
                )
                return {}, []
            await asyncio.sleep(0.3)
        finally:
            await client.close()


def run_service(role: str, config_path: Path | None, serve: Callable[[Settings], Awaitable[None]],
                instance: str | int = 0) -> int:
    """Entry point shared by the daemon processes: settings, logging, metrics, SIGHUP, then ``serve`` under uvloop.

    ``instance`` tells this process's metric files apart from its siblings' (e.g. the signer index).
    """
    setup_logging(role)  # until the file says otherwise, so start-up problems are logged as JSON too

    async def main() -> None:
        from contract.metrics import enable_multiprocess, forget_own_live_gauges
        from contract.reload import Reloader, reload_from_file

        settings = await load_settings(config_path)
        config = settings.config
        setup_logging(role, config.runtime.log_level, config.runtime.log_format)
        enable_multiprocess(config.runtime.state_dir, role, instance)  # before any metric exists
        # SIGHUP re-reads the file (log level and every key read per use); it must never kill us.
        reloader = Reloader(lambda: reload_from_file(role, config_path, config))
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, reloader.request)
        try:
            await serve(settings)
        finally:
            await reloader.wait()
            forget_own_live_gauges()

    try:
        uvloop.run(main())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0
