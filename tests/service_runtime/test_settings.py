"""Start-up settings against a real etcd: cluster-wide overrides and Manager discovery."""

from __future__ import annotations

import json

import aetcd
import pytest

from contract.config import ConfigError
from service_runtime.settings import DEVSTACK_ENDPOINT_ENV, load_settings
from tests.support.ports import free_port
from tests.support.servers import start_etcd


@pytest.fixture(scope="module")
def etcd(tmp_path_factory):
    handle = start_etcd(tmp_path_factory.mktemp("etcd"))
    yield handle
    handle.stop()


@pytest.fixture
def write_file(tmp_path):
    def write(text: str, etcd_port: int, namespace: str):
        path = tmp_path / "webui-host.toml"
        path.write_text(f'[etcd]\naddr = "127.0.0.1:{etcd_port}"\nnamespace = "{namespace}"\n{text}')
        return path

    return write


async def put(etcd, key: str, value) -> None:
    async with aetcd.Client(port=etcd.port) as client:
        await client.put(key.encode(), json.dumps(value).encode())


async def test_etcd_names_the_manager_when_the_file_does_not(etcd, write_file, monkeypatch):
    monkeypatch.delenv(DEVSTACK_ENDPOINT_ENV, raising=False)
    await put(etcd, "/t1/manager/endpoints", ["http://10.0.0.1:8081", "http://10.0.0.2:8081"])
    settings = await load_settings(write_file("", etcd.port, "t1"))
    assert settings.manager_endpoints == ["http://10.0.0.1:8081", "http://10.0.0.2:8081"]


async def test_the_file_wins_over_etcd_for_the_manager(etcd, write_file):
    await put(etcd, "/t2/manager/endpoints", ["http://10.0.0.1:8081"])
    settings = await load_settings(write_file('[api]\nendpoint = "http://mgr:8081"\n', etcd.port, "t2"))
    assert settings.manager_endpoints == ["http://mgr:8081"]


async def test_global_settings_override_the_file_but_not_bootstrap_keys(etcd, write_file):
    await put(
        etcd,
        "/t3/config/global",
        {"session": {"max_age": 77, "redis": {"addr": "evil:1"}}, "api": {"domain": "cluster"}, "service": {"port": 1}},
    )
    path = write_file(
        '[api]\nendpoint = "http://m:1"\n[session]\nmax_age = 3600\n[session.redis]\naddr = "r:6379"\n'
        "[service]\nport = 9000\n",
        etcd.port,
        "t3",
    )
    config = (await load_settings(path)).config
    assert config.session.max_age == 77 and config.api.domain == "cluster"
    assert config.session.redis.addr == "r:6379" and config.service.port == 9000


async def test_invalid_global_settings_are_reported_like_file_errors(etcd, write_file):
    await put(etcd, "/t4/config/global", {"session": {"max_age": "forever"}})
    with pytest.raises(ConfigError, match="session.max_age"):
        await load_settings(write_file('[api]\nendpoint = "http://m:1"\n', etcd.port, "t4"))


async def test_no_manager_anywhere_is_an_error_unless_the_devstack_runs(etcd, write_file, monkeypatch):
    monkeypatch.delenv(DEVSTACK_ENDPOINT_ENV, raising=False)
    path = write_file("", etcd.port, "t5")
    with pytest.raises(ConfigError, match="no Manager"):
        await load_settings(path)
    monkeypatch.setenv(DEVSTACK_ENDPOINT_ENV, "http://127.0.0.1:8091")
    assert (await load_settings(path)).manager_endpoints == ["http://127.0.0.1:8091"]


async def test_unreachable_etcd_falls_back_to_the_file(write_file):
    path = write_file('[api]\nendpoint = "http://m:1"\n[session]\nmax_age = 3600\n', free_port(), "t6")
    settings = await load_settings(path, etcd_wait=0.5)
    assert settings.config.session.max_age == 3600 and settings.manager_endpoints == ["http://m:1"]
