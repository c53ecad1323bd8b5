"""The Redis and etcd clients of every process against real servers that ask for TLS and passwords."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import redis.exceptions

from contract.config import parse_config
from contract.host_layout import REDIS_ADMIN, redis_password_file
from contract.redis_layout import ROLES
from service_runtime.etcd import etcd_client
from service_runtime.etcd_wire import EtcdRequestError
from service_runtime.keyfiles import ensure_secrets
from service_runtime.redis_client import redis_client
from tests.support.polling import eventually, eventually_sync
from tests.support.ports import free_ports
from tests.support.servers import ETCD, REDIS_SERVER, _stop, start_etcd
from tests.support.tls import write_loopback_certificate
from webui_host import embedded


def _config(tmp_path: Path, **tables) -> object:
    raw = {"runtime": {"state_dir": str(tmp_path / "state")}, **tables}
    return parse_config(raw)


@pytest.fixture
def tls_redis(tmp_path: Path):
    """redis-server speaking TLS only, with webui-host's ACL users."""
    secrets = tmp_path / "state" / "secrets"
    ensure_secrets(secrets)
    cert, key = write_loopback_certificate(tmp_path)
    port = free_ports(1)[0]
    passwords = {role: redis_password_file(secrets, role).read_text().strip() for role in (*ROLES, REDIS_ADMIN)}
    conf = tmp_path / "redis.conf"
    text = embedded.render_redis_conf(port=0, data_dir=tmp_path, passwords=passwords, server_knows_setinfo=False)
    conf.write_text(
        text + f"tls-port {port}\ntls-cert-file {cert}\ntls-key-file {key}\ntls-ca-cert-file {cert}\n"
        "tls-auth-clients no\n"
    )
    process = subprocess.Popen([REDIS_SERVER, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield port, cert
    finally:
        _stop(process)


async def test_redis_over_tls_with_the_ca_of_the_file(tmp_path: Path, tls_redis):
    port, cert = tls_redis
    redis_table = {"addr": f"127.0.0.1:{port}", "use_tls": True, "tls_ca_file": str(cert)}
    client = redis_client(_config(tmp_path, session={"redis": redis_table}), "sessiond")
    try:
        await eventually(client.ping, timeout=10, what="TLS Redis answers")
        await client.set("websession:x", b"1")
        assert await client.get("websession:x") == b"1"
    finally:
        await client.aclose()
    # Without use_tls the same server cannot be spoken to; with verification skipped it can.
    plain = redis_client(_config(tmp_path, session={"redis": {"addr": f"127.0.0.1:{port}"}}), "sessiond")
    with pytest.raises(redis.exceptions.ConnectionError):
        await plain.ping()
    await plain.aclose()
    skipping = redis_client(
        _config(tmp_path, session={"redis": {"addr": f"127.0.0.1:{port}", "use_tls": True, "tls_skip_verify": True}}),
        "sessiond",
    )
    assert await skipping.ping()
    await skipping.aclose()


def _etcdctl(port: int, *args: str, scheme: str = "http", extra: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["etcdctl", "--endpoints", f"{scheme}://127.0.0.1:{port}", *extra, *args],
        env={**os.environ, "ETCDCTL_API": "3"},
        capture_output=True,
        text=True,
        timeout=20,
    )


async def test_etcd_user_and_password(tmp_path: Path):
    etcd = start_etcd(tmp_path)
    try:
        for args in (
            ("user", "add", "root:rootpw"),
            ("user", "add", "webui:s3cret"),
            ("user", "grant-role", "webui", "root"),
            ("auth", "enable"),
        ):
            done = _etcdctl(etcd.port, *args, extra=("--user", "root:rootpw") if args[0] == "auth" else ())
            assert done.returncode == 0, done.stderr
        client = etcd_client(_config(tmp_path, etcd={"addr": etcd.addr, "user": "webui", "password": "s3cret"}))
        try:
            await client.put(b"/webui-host/probe", b"1")
            assert (await client.get(b"/webui-host/probe")).value == b"1"
        finally:
            await client.close()
        anonymous = etcd_client(_config(tmp_path, etcd={"addr": etcd.addr}))
        with pytest.raises(EtcdRequestError):
            await anonymous.put(b"/webui-host/probe", b"2")
        await anonymous.close()
    finally:
        etcd.stop()


async def test_etcd_over_tls_with_a_client_certificate(tmp_path: Path):
    cert, key = write_loopback_certificate(tmp_path)
    client_port, peer_port = free_ports(2)
    url = f"https://127.0.0.1:{client_port}"
    data = tmp_path / "etcd-tls"
    data.mkdir(mode=0o700)
    process = subprocess.Popen(
        [
            ETCD,
            "--name",
            "t",
            "--data-dir",
            str(data),
            "--listen-client-urls",
            url,
            "--advertise-client-urls",
            url,
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer_port}",
            "--initial-cluster",
            f"t=http://127.0.0.1:{peer_port}",
            "--cert-file",
            str(cert),
            "--key-file",
            str(key),
            "--trusted-ca-file",
            str(cert),
            "--client-cert-auth",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        tls = ("--cacert", str(cert), "--cert", str(cert), "--key", str(key))
        eventually_sync(
            lambda: _etcdctl(client_port, "endpoint", "health", scheme="https", extra=tls).returncode == 0,
            timeout=20,
            interval=0.2,
            what="etcd over TLS healthy",
        )
        config = _config(
            tmp_path,
            etcd={
                "addr": f"127.0.0.1:{client_port}",
                "ca_file": str(cert),
                "cert_file": str(cert),
                "key_file": str(key),
            },
        )
        client = etcd_client(config)
        try:
            await client.put(b"/webui-host/tls", b"yes")
            assert (await client.get(b"/webui-host/tls")).value == b"yes"
        finally:
            await client.close()
    finally:
        _stop(process)
