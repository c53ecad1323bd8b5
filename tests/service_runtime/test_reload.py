"""SIGHUP reload: what is applied in place, what needs a restart, and one reload at a time."""

from __future__ import annotations

import asyncio

import pytest

from contract.config import parse_config
from contract.host_layout import DRAIN_BUDGET_ENV
from frontdoor.webui_config import webui_settings
from service_runtime.reload import Reloader, apply_reload, drain_budget, reload_from_file, run_hooks


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


# ---- the front door's drain and supervisord's stop wait ----

DRAIN_3_S = {"ops": {"unready_delay": 1.0, "drain_timeout": 2.0}}


@pytest.mark.parametrize(
    "ops, budget, changed, needs_restart",
    [
        ({"unready_delay": 1.0, "drain_timeout": 1.5}, 3.0, ["ops.drain_timeout"], []),  # shorter: applied
        ({"unready_delay": 0.5, "drain_timeout": 2.5}, 3.0, ["ops.drain_timeout", "ops.unready_delay"], []),  # equal
        ({"unready_delay": 1.0, "drain_timeout": 30.0}, 3.0, [], ["ops.drain_timeout"]),
        ({"unready_delay": 5.0, "drain_timeout": 2.0}, 3.0, [], ["ops.unready_delay"]),
        ({"unready_delay": 5.0, "drain_timeout": 1.0}, 3.0, [], ["ops.drain_timeout", "ops.unready_delay"]),
        ({"unready_delay": 2.0, "drain_timeout": 1.5}, 3.0, [], ["ops.drain_timeout", "ops.unready_delay"]),
        ({"unready_delay": 1.0, "drain_timeout": 30.0}, None, ["ops.drain_timeout"], []),  # no supervisor told us
    ],
)
def test_a_drain_longer_than_supervisords_stop_wait_needs_a_restart(ops, budget, changed, needs_restart):
    current = parse_config(DRAIN_3_S)
    result = apply_reload(current, parse_config({"ops": ops}), budget)
    assert sorted(result.changed) == changed and sorted(result.needs_restart) == needs_restart
    assert sorted(result.restart_reasons) == needs_restart
    assert all("stopwaitsecs" in reason and "restart" in reason for reason in result.restart_reasons.values())
    if needs_restart:  # neither half of the drain is applied: the running one still fits the stop wait
        assert (current.ops.unready_delay, current.ops.drain_timeout) == (1.0, 2.0)


@pytest.mark.parametrize("raw, budget", [("13", 13.0), ("2.5", 2.5), ("", None), ("soon", None), (None, None)])
def test_the_drain_budget_the_launcher_passes(raw, budget):
    assert drain_budget({} if raw is None else {DRAIN_BUDGET_ENV: raw}) == budget


async def test_reload_from_file_holds_a_drain_over_the_budget_the_launcher_passed(tmp_path, monkeypatch):
    path = tmp_path / "webui-host.toml"
    head = '[etcd]\naddr = "127.0.0.1:1"\n[api]\nendpoint = "http://m:1"\n[ops]\nunready_delay = 1.0\n'
    current = parse_config({"etcd": {"addr": "127.0.0.1:1"}, "api": {"endpoint": "http://m:1"}, **DRAIN_3_S})
    monkeypatch.setenv(DRAIN_BUDGET_ENV, "3")  # what webui_host.supervisord_conf renders for this drain
    path.write_text(head + "drain_timeout = 60\n")
    result = await reload_from_file("frontdoor", path, current)
    assert result.needs_restart == ["ops.drain_timeout"] and current.ops.drain_timeout == 2.0
    assert (
        "60 s" not in result.restart_reasons["ops.drain_timeout"]
        and "3 s" in result.restart_reasons["ops.drain_timeout"]
    )
    path.write_text(head + "drain_timeout = 1.5\n")
    result = await reload_from_file("frontdoor", path, current)
    assert result.changed == ["ops.drain_timeout"] and current.ops.drain_timeout == 1.5
