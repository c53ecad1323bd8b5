"""A Redis master + replica + three ``redis-server --sentinel`` on loopback free ports, and a 3-member
etcd cluster: the high-availability layouts operators run Backend.AI on.  Each handle stops only the
processes it started."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import redis

from contract.host_layout import REDIS_ADMIN, redis_password_file
from service_runtime.keyfiles import ensure_secrets
from tests.support.polling import eventually_sync
from tests.support.ports import free_ports
from tests.support.servers import ETCD, REDIS_SERVER, RedisHandle, _stop, start_redis

SERVICE = "mymaster"


@dataclass
class SentinelSetup:
    master: RedisHandle
    replica: RedisHandle
    sentinel_ports: list[int]
    password: str | None = None  # the Sentinels' requirepass
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def sentinel_addrs(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port in self.sentinel_ports]

    def sentinel(self, index: int = 0) -> redis.Redis:
        return redis.Redis(port=self.sentinel_ports[index], password=self.password, decode_responses=True)

    def master_port(self) -> int:
        return int(self.sentinel().sentinel_get_master_addr_by_name(SERVICE)[1])

    def node(self, port: int) -> redis.Redis:
        handle = self.master if port == self.master.port else self.replica
        return handle.admin()

    def failover(self, timeout: float = 20.0) -> int:
        """SENTINEL FAILOVER, then wait until the Sentinels report the replica as master; its port."""
        before = self.master_port()
        self.sentinel().execute_command("SENTINEL", "FAILOVER", SERVICE)
        eventually_sync(lambda: self.master_port() != before, timeout=timeout, what="sentinel failover")
        return self.master_port()

    def stop(self) -> None:
        for process in self.processes:
            _stop(process)
        self.replica.stop()
        self.master.stop()


def start_sentinel_setup(tmp_path: Path, secrets_dir: Path, password: str | None = None) -> SentinelSetup:
    """Master and replica with webui-host's ACL users; three Sentinels watching them (quorum 2), asking
    for ``password`` when given (Backend.AI's single ``password`` authenticates to them)."""
    ensure_secrets(secrets_dir)
    admin_password = redis_password_file(secrets_dir, REDIS_ADMIN).read_text().strip()
    master = start_redis(tmp_path / "master", secrets_dir)
    replica = start_redis(tmp_path / "replica", secrets_dir)
    for node in (master, replica):  # the replica (and a demoted master) replicate as the admin user
        with node.admin() as client:
            client.config_set("masteruser", REDIS_ADMIN)
            client.config_set("masterauth", admin_password)
    with replica.admin() as client:
        client.execute_command("REPLICAOF", "127.0.0.1", str(master.port))
    eventually_sync(
        lambda: replica.admin().info("replication").get("master_link_status") == "up",
        timeout=15,
        what="replica in sync",
    )
    setup = SentinelSetup(master, replica, free_ports(3), password)
    for index, port in enumerate(setup.sentinel_ports):
        directory = tmp_path / f"sentinel{index}"
        directory.mkdir(parents=True, exist_ok=True)
        conf = directory / "sentinel.conf"
        conf.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {port}",
                    "daemonize no",
                    f'dir "{directory}"',
                    f"sentinel monitor {SERVICE} 127.0.0.1 {master.port} 2",
                    f"sentinel auth-user {SERVICE} {REDIS_ADMIN}",
                    f"sentinel auth-pass {SERVICE} {admin_password}",
                    f"sentinel down-after-milliseconds {SERVICE} 1000",
                    f"sentinel failover-timeout {SERVICE} 10000",
                    f"sentinel parallel-syncs {SERVICE} 1",
                    *([f"requirepass {password}", f"sentinel sentinel-pass {password}"] if password else []),
                    "",
                ]
            )
        )
        conf.chmod(0o600)
        with open(directory / "sentinel.log", "ab") as log:
            setup.processes.append(
                subprocess.Popen([REDIS_SERVER, str(conf), "--sentinel"], stdout=log, stderr=subprocess.STDOUT)
            )

    def ready() -> bool:
        try:
            for index in range(3):
                with setup.sentinel(index) as sentinel:
                    state = sentinel.sentinel_master(SERVICE)
                    if int(state["num-slaves"]) < 1 or int(state["num-other-sentinels"]) < 2:
                        return False
            return True
        except redis.RedisError:
            return False

    try:
        eventually_sync(ready, timeout=30, what="sentinels know the replica and each other")
    except BaseException:
        setup.stop()
        raise
    return setup


@dataclass
class EtcdCluster:
    client_ports: list[int]
    processes: list[subprocess.Popen | None]

    @property
    def endpoints(self) -> list[str]:
        return [f"127.0.0.1:{port}" for port in self.client_ports]

    def kill(self, index: int) -> None:
        process = self.processes[index]
        if process is not None:
            process.kill()
            process.wait(timeout=10)

    def healthy_members(self) -> int:
        count = 0
        for endpoint in self.endpoints:
            done = subprocess.run(
                ["etcdctl", "--endpoints", endpoint, "--command-timeout=1s", "endpoint", "health"],
                env={**os.environ, "ETCDCTL_API": "3"},
                capture_output=True,
            )
            count += done.returncode == 0
        return count

    def stop(self) -> None:
        for process in self.processes:
            if process is not None:
                _stop(process)


def start_etcd_cluster(tmp_path: Path, members: int = 3, timeout: float = 30.0) -> EtcdCluster:
    ports = free_ports(members * 2)
    client_ports, peer_ports = ports[:members], ports[members:]
    names = [f"m{index}" for index in range(members)]
    initial = ",".join(f"{name}=http://127.0.0.1:{peer}" for name, peer in zip(names, peer_ports))
    processes: list[subprocess.Popen | None] = []
    for name, client, peer in zip(names, client_ports, peer_ports):
        data_dir = tmp_path / "etcd-cluster" / name
        data_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
        argv = [
            ETCD,
            "--name",
            name,
            "--data-dir",
            str(data_dir),
            "--listen-client-urls",
            f"http://127.0.0.1:{client}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{client}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer}",
            "--initial-cluster",
            initial,
            "--initial-cluster-state",
            "new",
            "--initial-cluster-token",
            f"t{client_ports[0]}",
            "--heartbeat-interval",
            "50",
            "--election-timeout",
            "500",
        ]
        with open(data_dir.parent / f"{name}.log", "ab") as log:
            processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT))
    cluster = EtcdCluster(client_ports, processes)
    try:
        eventually_sync(
            lambda: cluster.healthy_members() == members, timeout=timeout, interval=0.3, what="etcd cluster healthy"
        )
    except BaseException:
        cluster.stop()
        raise
    return cluster
