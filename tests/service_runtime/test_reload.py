"""SIGHUP reload: what is applied in place, what needs a restart, and one reload at a time."""

from __future__ import annotations

import asyncio

import pytest

from contract.config import parse_config
from frontdoor.webui_config import webui_settings
from service_runtime.reload import Reloader, apply_reload, reload_from_file, run_hooks


def test_non_bootstrap_keys_are_applied_in_place_and_bootstrap_keys_reported():
    current = parse_config({"api": {"response_timeout": 300}, "service": {"port": 8090}})
    held_by_a_part = current.api  # what a module captured at start
    fresh = parse_config(
        {
            "api": {"response_timeout": 5, "endpoint": "http://other:1"},
            "service": {"port": 9999},
            "runtime": {"log_level": "DEBUG"},
            "signers": {"request_timeout": 0.25, "count": 8},
            "ops": {"drain_timeout": 3, "port": 1234},
        }
    )
    result = apply_reload(current, fresh)
    assert sorted(result.changed) == [
        "api.response_timeout",
        "ops.drain_timeout",
        "runtime.log_level",
        "signers.request_timeout",
    ]
    assert sorted(result.needs_restart) == ["api.endpoint", "ops.port", "service.port", "signers.count"]
    assert held_by_a_part.response_timeout == 5 and current.runtime.log_level == "DEBUG"
    assert current.service.port == 8090 and current.api.endpoint == [] and current.ops.port == 8092


def test_backend_ai_web_ui_keys_are_applied_and_reported():
    """Keys kept for Backend.AI's Web UI without a model of ours are served per request by /config.toml."""
    current = parse_config({"service": {"webui_debug": False}, "resources": {"max_cpu_cores_per_container": 64}})
    fresh = parse_config(
        {"service": {"webui_debug": True}, "resources": {"max_cpu_cores_per_container": 8}, "ui": {"brand": "Lab"}}
    )
    result = apply_reload(current, fresh)
    assert sorted(result.changed) == ["resources", "service.webui_debug", "ui"] and result.needs_restart == []
    assert webui_settings(current) == webui_settings(fresh)
    assert webui_settings(current)[("service", "webui_debug")] is True


@pytest.mark.parametrize(
    "before, after",
    [
        pytest.param({}, {"api": {"domain": "default"}}, id="our-default-now-written"),
        pytest.param({"api": {"domain": "default"}}, {}, id="written-key-left-out"),
    ],
)
def test_config_toml_after_a_reload_is_what_a_restart_serves(before, after):
    """/config.toml sends a key the file writes, Backend.AI's default for one it leaves out."""
    current = parse_config(before)
    apply_reload(current, parse_config(after))
    assert webui_settings(current) == webui_settings(parse_config(after))


@pytest.mark.parametrize(
    "section, key, bootstrap",
    [
        ("service", "port", True),
        ("service", "ssl_cert", False),
        ("session", "redis", True),
        ("session", "max_age", False),
        ("zmq", "max_message_age", True),
        ("etcd", "lease_ttl", True),
        ("embedded", "redis_port", True),
        ("runtime", "log_format", False),
        ("security", "cors_max_age", False),
    ],
)
def test_bootstrap_table(section, key, bootstrap):
    current = parse_config({})
    fresh_raw = {
        "service": {"port": 1, "ssl_cert": "/x"},
        "session": {"redis": {"addr": "h:1"}, "max_age": 61},
        "zmq": {"max_message_age": 1},
        "etcd": {"lease_ttl": 3},
        "embedded": {"redis_port": 2},
        "runtime": {"log_format": "text"},
        "security": {"cors_max_age": 1},
    }
    result = apply_reload(current, parse_config(fresh_raw))
    name = f"{section}.{key}"
    assert (name in result.needs_restart) is bootstrap and (name in result.changed) is not bootstrap


async def test_reload_from_file_applies_and_refuses_an_invalid_file(tmp_path):
    path = tmp_path / "webui-host.toml"
    path.write_text('[etcd]\naddr = "127.0.0.1:1"\n[api]\nendpoint = "http://m:1"\nresponse_timeout = 7\n')
    current = parse_config({"etcd": {"addr": "127.0.0.1:1"}, "api": {"endpoint": "http://m:1"}})
    seen = []
    result = await reload_from_file("test", path, current, [seen.append])
    assert result.changed == ["api.response_timeout"] and current.api.response_timeout == 7 and seen == [current]
    path.write_text("[api]\nresponse_timeout = -1\n")
    assert await reload_from_file("test", path, current) is None
    assert current.api.response_timeout == 7


async def test_a_failing_hook_does_not_stop_the_others():
    calls = []

    def broken(_config):
        raise RuntimeError("boom")

    async def works(config):
        calls.append(config)

    await run_hooks([broken, works], parse_config({}))
    assert len(calls) == 1


async def test_reloader_runs_one_at_a_time_and_once_more_for_a_signal_during_a_reload():
    running, runs = asyncio.Event(), []
    release = asyncio.Event()

    async def reload():
        runs.append(1)
        running.set()
        await release.wait()

    reloader = Reloader(reload)
    reloader.request()
    await running.wait()
    reloader.request()
    reloader.request()  # coalesced with the previous one
    release.set()
    await reloader.wait()
    assert len(runs) == 2
