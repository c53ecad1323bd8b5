"""etcd connections: the client every process opens, and the cluster-wide settings read at start."""

from __future__ import annotations

import json
from typing import Any

import aetcd

from contract.config import Config
from contract.etcd_layout import global_config_key, manager_endpoints_key


def etcd_client(config: Config) -> aetcd.Client:
    host, _, port = config.etcd_addr.rpartition(":")
    return aetcd.Client(host=host, port=int(port), timeout=5)


async def read_global_settings(client: aetcd.Client, config: Config) -> tuple[dict[str, Any], list[str]]:
    """Cluster-wide overrides and Manager endpoints published in etcd (empty when none)."""
    overrides: dict[str, Any] = {}
    endpoints: list[str] = []
    found = await client.get(global_config_key(config))
    if found is not None:
        overrides = json.loads(found.value)
    found = await client.get(manager_endpoints_key(config))
    if found is not None:
        endpoints = [str(url) for url in json.loads(found.value)]
    return overrides, endpoints
