"""The embedded Redis and etcd, really started from what webui-host renders (loopback, free ports)."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import aetcd
import pytest
import redis
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, NoPermissionError
from redis.retry import Retry

from contract.config import parse_config
from contract.etcd_layout import manager_endpoints_key
from contract.host_layout import REDIS_ADMIN, redis_password_file
from contract.redis_layout import ROLES
from service_runtime.keyfiles import ensure_secrets
from tests.support.polling import eventually, eventually_sync
from webui_host import embedded, host_setup, manager_choice

REDIS = "/usr/bin/redis-server"
ETCD = "/usr/bin/etcd"


def _free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not a listener
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(pair: bool = False) -> int:
    """A free loopback port (and, with pair, the one after it too: etcd's peer port)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65535 and (not pair or _free(port + 1)):
            return port
    raise RuntimeError("no free port pair")


def stop(proc: subprocess.Popen) -> None:
    manager_choice.stop_process(proc)


def wait_until(check, timeout: float = 15.0, what: str = "server"):
    """What ``check`` returns once it stops raising (until then the server is not up)."""

    def answered() -> tuple:
        try:
            return (check(),)  # a tuple: truthy whatever ``check`` returns
        except Exception as exc:  # noqa: BLE001 - not up yet; the last one is shown at the deadline
            raise AssertionError(f"{what} did not come up: {exc!r}") from exc

    return eventually_sync(answered, timeout, interval=0.05, what=what)[0]


# ---------------------------------------------------------------------------------------------
# Redis


@pytest.fixture
def embedded_redis(tmp_path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    secrets_dir = tmp_path / "secrets"
    ensure_secrets(secrets_dir)
    passwords = {r: redis_password_file(secrets_dir, r).read_text().strip() for r in (*ROLES, REDIS_ADMIN)}
    port = free_port()
    data_dir = tmp_path / "redis"
    data_dir.mkdir()
    conf = tmp_path / "redis.conf"
    conf.write_text(
        embedded.render_redis_conf(
            port=port,
            data_dir=data_dir,
            passwords=passwords,
            server_knows_setinfo=embedded.knows_setinfo(embedded.redis_server_version(REDIS)),
        )
    )
    with open(tmp_path / "redis.log", "wb") as log:
        proc = subprocess.Popen([REDIS, str(conf)], stdout=log, stderr=subprocess.STDOUT)
    try:
        admin = connect(port, username=REDIS_ADMIN, password=passwords[REDIS_ADMIN])
        wait_until(admin.ping, what="redis-server")
        admin.close()
        yield port, passwords
    finally:
        stop(proc)
        assert proc.returncode is not None


def connect(port: int, **options) -> redis.Redis:
    # No retries: a refused login must fail at once, not after redis-py's backoff.
    return redis.Redis(port=port, socket_timeout=5, retry=Retry(NoBackoff(), 0), **options)


def client(port: int, passwords: dict[str, str], role: str) -> redis.Redis:
    return connect(port, username=role, password=passwords[role])


def test_frontdoor_reads_sessions_only(embedded_redis):
    port, passwords = embedded_redis
    client(port, passwords, "sessiond").set("websession:x", "record")
    frontdoor = client(port, passwords, "frontdoor")
    assert frontdoor.get("websession:x") == b"record"
    with pytest.raises(NoPermissionError):
        frontdoor.get("websecret:x")
    with pytest.raises(NoPermissionError):
        frontdoor.set("websession:x", "forged")
    with pytest.raises(NoPermissionError):
        frontdoor.keys("*")
    with pytest.raises(NoPermissionError):
        frontdoor.scan()
    with pytest.raises(NoPermissionError):
        frontdoor.publish("webui:events", "session x")


def test_signer_reads_secrets_only(embedded_redis):
    port, passwords = embedded_redis
    client(port, passwords, "sessiond").set("websecret:x", "sealed")
    signer = client(port, passwords, "signer")
    assert signer.get("websecret:x") == b"sealed"
    with pytest.raises(NoPermissionError):
        signer.get("websession:x")
    with pytest.raises(NoPermissionError):
        signer.set("websecret:x", "forged")
    with pytest.raises(NoPermissionError):
        signer.scan()


def test_session_daemon_writes_both(embedded_redis):
    port, passwords = embedded_redis
    sessiond = client(port, passwords, "sessiond")
    assert sessiond.set("websession:y", "a", ex=60) is True
    assert sessiond.set("websecret:y", "b", ex=60) is True
    assert sessiond.publish("webui:events", "session y") >= 0
    with pytest.raises(NoPermissionError):
        sessiond.set("other:key", "c")
    with pytest.raises(NoPermissionError):
        sessiond.keys("*")


def test_default_user_is_off(embedded_redis):
    port, passwords = embedded_redis
    with pytest.raises(AuthenticationError):
        connect(port).get("websession:x")
    with pytest.raises(AuthenticationError, match="disabled"):
        connect(port, username="default", password=passwords["frontdoor"]).ping()
    with pytest.raises(AuthenticationError):
        connect(port, username="frontdoor", password="wrong").ping()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:  # no client library involved
        raw.sendall(b"GET websession:x\r\n")
        assert raw.recv(200).startswith(b"-NOAUTH")


def test_only_the_append_only_file_is_written(embedded_redis, tmp_path: Path):
    port, passwords = embedded_redis
    admin = client(port, passwords, REDIS_ADMIN)
    assert admin.config_get("save") == {"save": ""}
    assert admin.config_get("appendonly") == {"appendonly": "yes"}
    assert admin.config_get("bind") == {"bind": "127.0.0.1"}


# ---------------------------------------------------------------------------------------------
# etcd


@pytest.fixture
def etcd_port() -> int:
    return free_port(pair=True)


def start_etcd(data_dir: Path, port: int, log_path: Path) -> subprocess.Popen:
    argv = embedded.etcd_command(data_dir=data_dir, client_port=port, binary=ETCD)
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)


async def test_embedded_etcd_put_get(tmp_path: Path, etcd_port: int):
    data_dir = tmp_path / "etcd"
    data_dir.mkdir(mode=0o700)
    proc = start_etcd(data_dir, etcd_port, tmp_path / "etcd.log")
    try:

        async def put_then_get():
            if proc.poll() is not None:
                raise RuntimeError(f"etcd exited with status {proc.returncode}")
            try:
                async with aetcd.Client(host="127.0.0.1", port=etcd_port, timeout=2) as etcd:
                    await etcd.put(b"/webui-host/test", b"value")
                    return (await etcd.get(b"/webui-host/test"),)
            except Exception as exc:  # noqa: BLE001 - not up yet; the last one is shown at the deadline
                raise AssertionError(f"etcd did not come up: {exc!r}") from exc

        (found,) = await eventually(put_then_get, timeout=15, what="a put and get through etcd")
        assert found is not None and found.value == b"value"
    finally:
        stop(proc)
    assert (data_dir / "member").is_dir()


def test_manager_decision_reads_embedded_etcd(tmp_path: Path, etcd_port: int):
    """Fresh etcd -> devstack; a running or stopped etcd naming a Manager -> no devstack."""
    config_file = tmp_path / "c.toml"
    config_file.write_text(f'[embedded]\netcd_port = {etcd_port}\n[runtime]\nstate_dir = "{tmp_path / "state"}"\n')
    setup = host_setup.resolve(config_file)
    host_setup.prepare(setup)
    assert manager_choice.decide_manager(setup).devstack  # fresh data dir: nothing to read

    proc = start_etcd(setup.state_dir / "etcd", etcd_port, tmp_path / "etcd.log")
    try:

        def put():
            done = subprocess.run(
                [
                    "etcdctl",
                    "--endpoints",
                    f"http://127.0.0.1:{etcd_port}",
                    "put",
                    manager_endpoints_key(setup.config).decode(),
                    json.dumps(["http://10.1.2.3:8081"]),
                ],
                env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"},
                capture_output=True,
                timeout=5,
            )
            assert done.returncode == 0, done.stderr

        wait_until(put, what="etcd")
        running = manager_choice.decide_manager(setup)  # etcd is up: read it directly
        assert (running.source, running.endpoints, running.devstack) == ("etcd", ["http://10.1.2.3:8081"], False)
    finally:
        stop(proc)

    stopped = manager_choice.decide_manager(setup)  # etcd is down: started for a moment, then stopped
    assert (stopped.source, stopped.endpoints) == ("etcd", ["http://10.1.2.3:8081"])
    assert _free(etcd_port) and _free(etcd_port + 1), "the briefly started etcd was not stopped"
    data_dir = str(setup.state_dir / "etcd").encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            assert data_dir not in cmdline.read_bytes(), f"etcd still running: {cmdline}"
        except OSError:
            continue


def test_file_endpoint_needs_no_etcd(tmp_path: Path):
    setup = host_setup.resolve(None, tmp_path / "state")
    config = parse_config({"api": {"endpoint": "http://m:8081"}})
    choice = manager_choice.decide_manager(host_setup.Setup(config, None, tmp_path / "state"))
    assert (choice.source, choice.endpoints, choice.devstack) == ("file", ["http://m:8081"], False)
    assert not setup.state_dir.exists()
