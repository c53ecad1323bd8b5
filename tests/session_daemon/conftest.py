"""A real redis-server with the production ACL users, one per test module.

``start_redis`` has no pytest dependency so it can move to a shared ``tests/support/`` module.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from contract.redis_layout import ROLES, acl_rules
from contract.runtime import REDIS_ADMIN, ensure_secrets, redis_password_file

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class RedisHandle:
    port: int
    process: subprocess.Popen
    secrets_dir: Path
    conf_path: Path

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def admin(self) -> redis.Redis:
        password = redis_password_file(self.secrets_dir, REDIS_ADMIN).read_text().strip()
        return redis.Redis(port=self.port, username=REDIS_ADMIN, password=password, protocol=2)

    def stop(self) -> None:
        """Stop this server (only its own PID) and wait for it to exit."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def write_redis_conf(directory: Path, secrets_dir: Path, port: int) -> Path:
    def password(role: str) -> str:
        return redis_password_file(secrets_dir, role).read_text().strip()

    lines = [
        f"port {port}",
        "bind 127.0.0.1",
        f"dir {directory}",
        'save ""',
        "appendonly no",
        "daemonize no",
        "user default off",
        f"user {REDIS_ADMIN} on >{password(REDIS_ADMIN)} ~* &* +@all",
        *(f"user {role} on >{password(role)} {acl_rules(role, server_knows_setinfo=False)}" for role in ROLES),
    ]
    conf = directory / "redis.conf"
    conf.write_text("\n".join(lines) + "\n")
    conf.chmod(0o600)
    return conf


def start_redis(tmp_path: Path, secrets_dir: Path, port: int | None = None, timeout: float = 10.0) -> RedisHandle:
    """Start redis-server on a free loopback port (or ``port``, to restart one) and wait for PING."""
    ensure_secrets(secrets_dir)
    directory = tmp_path / "redis"
    directory.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    conf = write_redis_conf(directory, secrets_dir, port)
    process = subprocess.Popen(
        [REDIS_SERVER, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    handle = RedisHandle(port, process, secrets_dir, conf)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with status {process.returncode} (port {port} taken?)")
        try:
            with handle.admin() as client:
                if client.ping():
                    return handle
        except redis.ConnectionError:
            time.sleep(0.02)
    handle.stop()
    raise RuntimeError(f"redis-server did not answer PING on port {port} within {timeout} s")


@pytest.fixture(scope="module")
def redis_secrets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    secrets_dir = tmp_path_factory.mktemp("secrets") / "secrets"
    ensure_secrets(secrets_dir)
    return secrets_dir


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory, redis_secrets: Path):
    handle = start_redis(tmp_path_factory.mktemp("redis"), redis_secrets)
    yield handle
    handle.stop()
