"""etcd connections: the client every process opens, and the cluster-wide settings read at start.

aetcd connects to one ``host:port``; ``EtcdClient`` gives its gRPC channel every endpoint of
``[etcd] addr`` at once (an ``ipv4:``/``ipv6:`` target, host names resolved at connect), so gRPC's
pick-first policy connects to the first member that answers and, when that member dies, the
channel's next connection goes to the next one.  Calls in flight when it dies fail; every user of a
client (the settings read, the groups watcher, the agents' registrations, the CLI) retries, and a
retry runs on a new connection.  TLS (``ca_file``, ``cert_file``/``key_file``) replaces aetcd's
insecure channel; ``user``/``password`` use aetcd's own authentication (a new token per connection,
so a token of a dead member is never reused).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from typing import Any

import aetcd
import grpc
from aetcd import rpc
from aetcd.client import _handle_errors
from aetcd.watcher import Watcher

from contract.config import Config
from contract.etcd_layout import global_config_key, manager_endpoints_key


def _literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def grpc_target(endpoints: list[str]) -> str:
    """One gRPC target naming every endpoint (host names resolved now), IPv4 first."""
    v4: list[str] = []
    v6: list[str] = []
    for endpoint in endpoints:
        host, _, port = endpoint.rpartition(":")
        literal = _literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
            except OSError:
                continue  # unresolvable now: the other endpoints may still answer
            addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
        for address in dict.fromkeys(addresses):
            (v4 if address.version == 4 else v6).append(
                f"{address}:{port}" if address.version == 4 else f"[{address}]:{port}"
            )
    if v4:  # gRPC takes one address family per target
        return "ipv4:" + ",".join(v4)
    if v6:
        return "ipv6:" + ",".join(v6)
    return endpoints[0]  # nothing resolved: let gRPC report it on the first call


class EtcdClient(aetcd.Client):
    """aetcd's client over every endpoint of ``[etcd] addr``, with TLS when configured."""

    def __init__(self, config: Config):
        etcd = config.etcd
        embedded = config.embeds_etcd
        super().__init__(
            host="",
            port=0,
            timeout=5,
            username=None if embedded else etcd.user,
            password=None if embedded else etcd.password,
        )
        self._endpoints = config.etcd_endpoints
        self._credentials = (
            None
            if embedded or not etcd.tls
            else grpc.ssl_channel_credentials(
                root_certificates=etcd.ca_file.read_bytes() if etcd.ca_file else None,
                private_key=etcd.key_file.read_bytes() if etcd.key_file else None,
                certificate_chain=etcd.cert_file.read_bytes() if etcd.cert_file else None,
            )
        )
        server_name = etcd.tls_server_name or next(
            (host for host, _, _port in (e.rpartition(":") for e in self._endpoints) if _literal(host) is None), None
        )
        if self._credentials is not None and server_name:
            self._options["grpc.ssl_target_name_override"] = server_name
        # Fail over quickly: a dead member's address is retried at most every second.
        self._options.setdefault("grpc.initial_reconnect_backoff_ms", 200)
        self._options.setdefault("grpc.max_reconnect_backoff_ms", 1000)

    @_handle_errors
    async def connect(self) -> None:
        """aetcd's connect, on a channel to every endpoint (TLS when configured)."""
        if self._connected.is_set():
            return
        if self._is_connecting:
            await asyncio.wait_for(self._connected.wait(), self._connect_wait_timeout)
            return
        try:
            self._is_connecting = True
            target = grpc_target(self._endpoints)
            options = list(self._options.items())
            self.channel = (
                rpc.secure_channel(target, self._credentials, options=options)
                if self._credentials is not None
                else rpc.insecure_channel(target, options=options)
            )
            if self._username is not None and self._password is not None:
                self.auth_stub = rpc.AuthStub(self.channel)
                reply = await self.auth_stub.Authenticate(
                    rpc.AuthenticateRequest(name=self._username, password=self._password), timeout=self._timeout
                )
                self.metadata = (("token", reply.token),)
            self.kvstub = rpc.KVStub(self.channel)
            self.clusterstub = rpc.ClusterStub(self.channel)
            self.leasestub = rpc.LeaseStub(self.channel)
            self.maintenancestub = rpc.MaintenanceStub(self.channel)
            self._watcher = Watcher(rpc.WatchStub(self.channel), timeout=self._timeout, metadata=self.metadata)
            self._connected.set()
        finally:
            self._is_connecting = False


def etcd_client(config: Config) -> aetcd.Client:
    return EtcdClient(config)


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
