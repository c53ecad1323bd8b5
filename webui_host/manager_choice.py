"""Which Manager: the file, then etcd, then the devstack (service_runtime.settings's order).

The answer decides whether the development Manager runs under supervisord at all.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field

from contract.config import Config, merge_global_overrides, parse_config
from webui_host import embedded
from webui_host.host_setup import Setup


@dataclass
class ManagerChoice:
    source: str  # "file" | "etcd" | "devstack" | "unknown" (etcd unreachable)
    endpoints: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def devstack(self) -> bool:
        return self.source == "devstack"


def decide_manager(setup: Setup, *, etcd_wait: float = 20.0) -> ManagerChoice:
    """Whether the devstack must run: the file names no Manager and neither does etcd.

    An embedded etcd with data is started for a moment to be read (and stopped by its PID) unless it
    already runs; a fresh one cannot name a Manager.  An unreachable external etcd starts no
    devstack: the processes will find the Manager in etcd once it is back.
    """
    config = setup.config
    if config.api.endpoint:
        return ManagerChoice("file", config.api.endpoint)
    data_dir = setup.state_dir / "etcd"
    if config.embeds_etcd and not (data_dir / "member").exists():
        return ManagerChoice("devstack", [config.devstack_endpoint])
    found = _try_read_etcd(config, 3.0)
    if found is None and config.embeds_etcd:
        found = _read_embedded_etcd_once(setup, etcd_wait)
    if found is None:
        return ManagerChoice(
            "unknown",
            [],
            [
                f"etcd at {config.etcd_addr} is unreachable, so the Manager is not known yet; "
                "no devstack is started (the processes retry etcd)"
            ],
        )
    return _choice_from_etcd(setup, *found)


def _choice_from_etcd(setup: Setup, overrides: dict, endpoints: list[str]) -> ManagerChoice:
    config = parse_config(merge_global_overrides(setup.raw, overrides)) if overrides else setup.config
    if config.api.endpoint:
        return ManagerChoice("etcd", config.api.endpoint, ["[api] endpoint set by etcd's config/global"])
    if endpoints:
        return ManagerChoice("etcd", endpoints)
    return ManagerChoice("devstack", [setup.config.devstack_endpoint])


def _try_read_etcd(config: Config, timeout: float) -> tuple[dict, list[str]] | None:
    import asyncio  # only a state with an etcd to read needs it (a fresh start reads none)

    from service_runtime.etcd_wire import EtcdError  # with the client (see _read_etcd)

    try:
        return asyncio.run(_read_etcd(config, timeout))
    except (EtcdError, OSError, TimeoutError, ValueError, TypeError):  # unreachable, unreadable TLS files, bad JSON
        return None


async def _read_etcd(config: Config, timeout: float) -> tuple[dict, list[str]]:
    # Here, not at the top: a first run (a fresh embedded etcd) needs no etcd client.
    import asyncio

    from service_runtime.etcd import etcd_client, read_global_settings

    client = etcd_client(config)
    try:
        async with asyncio.timeout(timeout):
            return await read_global_settings(client, config)
    finally:
        try:
            async with asyncio.timeout(2.0):
                await client.close()
        except Exception:  # noqa: BLE001 - closing a client that never connected
            pass


def _read_embedded_etcd_once(setup: Setup, wait: float) -> tuple[dict, list[str]] | None:
    config = setup.config
    binary = embedded.etcd_binary()
    if binary is None:
        return None
    argv = embedded.etcd_command(
        data_dir=setup.state_dir / "etcd", client_port=config.embedded.etcd_port, binary=binary
    )
    log_path = setup.state_dir / "logs" / "etcd.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and proc.poll() is None:
            found = _try_read_etcd(config, 2.0)
            if found is not None:
                return found
            time.sleep(0.2)
        return None
    finally:
        stop_process(proc)


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop one process we started, by its PID: TERM, then KILL."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
