"""Real redis-server and etcd processes for tests, on free loopback ports, rendered exactly as
``webui-host run`` renders them (same ACL users, same etcd flags).  Each handle stops only its own PID.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import redis

from contract.host_layout import REDIS_ADMIN, redis_password_file
from contract.redis_layout import ROLES
from service_runtime.keyfiles import ensure_secrets
from tests.support.polling import eventually_sync
from tests.support.ports import free_port, free_ports
from webui_host import embedded

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class RedisHandle:
    port: int
    process: subprocess.Popen
    secrets_dir: Path
    conf_path: Path

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, role: str) -> redis.Redis:
        password = redis_password_file(self.secrets_dir, role).read_text().strip()
        return redis.Redis(port=self.port, username=role, password=password, protocol=2)

    def admin(self) -> redis.Redis:
        return self.client(REDIS_ADMIN)

    def stop(self) -> None:
        _stop(self.process)


def start_redis(tmp_path: Path, secrets_dir: Path, port: int | None = None, timeout: float = 10.0) -> RedisHandle:
    """Start redis-server on a free loopback port (or ``port``, to restart one) and wait for PING."""
    ensure_secrets(secrets_dir)
    directory = tmp_path / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    passwords = {role: redis_password_file(secrets_dir, role).read_text().strip() for role in (*ROLES, REDIS_ADMIN)}
    conf = directory / "redis.conf"
    conf.write_text(
        embedded.render_redis_conf(
            port=port,
            data_dir=directory,
            passwords=passwords,
            server_knows_setinfo=embedded.knows_setinfo(embedded.redis_server_version(REDIS_SERVER)),
        )
    )
    conf.chmod(0o600)
    process = subprocess.Popen([REDIS_SERVER, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    handle = RedisHandle(port, process, secrets_dir, conf)

    def answers_ping() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with status {process.returncode} (port {port} taken?)")
        try:
            with handle.admin() as client:
                return client.ping()
        except redis.ConnectionError:
            return False

    try:
        eventually_sync(answers_ping, timeout, interval=0.02, what=f"redis-server answering PING on port {port}")
    except AssertionError:
        handle.stop()
        raise
    return handle


@dataclass
class EtcdHandle:
    port: int
    process: subprocess.Popen

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        _stop(self.process)


def start_etcd(tmp_path: Path, timeout: float = 15.0) -> EtcdHandle:
    """Start a one-member etcd on free loopback client and peer ports and wait until it answers."""
    data_dir = tmp_path / "etcd"
    data_dir.mkdir(parents=True, mode=0o700, exist_ok=True)
    client_port, peer_port = free_ports(2)
    argv = embedded.etcd_command(data_dir=data_dir, client_port=client_port, peer_port=peer_port, binary=ETCD)
    with open(tmp_path / "etcd.log", "ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"etcd exited with status {process.returncode}")
        done = subprocess.run(
            ["etcdctl", "--endpoints", f"http://127.0.0.1:{client_port}", "endpoint", "health"],
            env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"},
            capture_output=True,
        )
        return done.returncode == 0

    try:
        eventually_sync(healthy, timeout, what="etcd healthy")
    except AssertionError:
        _stop(process)
        raise
    return EtcdHandle(client_port, process)
