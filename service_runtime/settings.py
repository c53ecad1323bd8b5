"""A process's settings at start and at every reload: the file, etcd's cluster-wide settings, the Manager endpoints."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from contract.config import Config, ConfigError
from contract.host_layout import DEVSTACK_ENDPOINT_ENV
from service_runtime.config_file import load_config
from service_runtime.etcd import etcd_client, read_global_settings

log = logging.getLogger(__name__)
# Seconds between tries while etcd is not up yet; every process of a fresh host starts with etcd, so
# this is the granularity of their start once it answers.
ETCD_RETRY = 0.1


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
        except Exception as exc:  # EtcdError, and a JSON or config error of what etcd holds
            if asyncio.get_running_loop().time() >= deadline:
                log.warning(
                    "etcd unreachable; running with the file's settings",
                    extra={"event": "etcd_unreachable", "etcd": config.etcd_addr, "error": type(exc).__name__},
                )
                return {}, []
            await asyncio.sleep(ETCD_RETRY)
        finally:
            await client.close()
