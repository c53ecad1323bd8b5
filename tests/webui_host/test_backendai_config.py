"""Backend.AI's configuration as operators write it: every key of its webserver samples is honoured,
or warned about / refused by name (tests/fixtures/backendai/README.md says where the samples come from)."""

from __future__ import annotations

import io
import json
import tomllib
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from contract.backendai_keys import WARNED, WEBUI
from contract.config import ConfigError, normalise_keys, parse_config
from webui_host import cli

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "backendai"
SAMPLES = ["webserver-sample-23.09.conf", "webserver-sample.conf", "webserver-sample.toml"]
KINDS = {"honoured", "webui", "alias", "warned", "refused"}


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


def leaf_keys(value, path=()):
    """Every key the file sets (tables of tables flattened, arrays of tables by their keys)."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from leaf_keys(sub, (*path, key))
    elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        for item in value:
            yield from leaf_keys(item, path)
    else:
        yield ".".join(path)


def check_json(path: Path) -> dict:
    _status, out, _err = run_cli("check-config", "--json", "-f", str(path))
    return json.loads(out)


@pytest.mark.parametrize("name", SAMPLES)
def test_every_key_of_backendai_samples_is_accounted_for(name: str):
    raw = normalise_keys(tomllib.loads((FIXTURES / name).read_text()))
    report = check_json(FIXTURES / name)
    expected = set(leaf_keys(raw))
    assert expected and expected == set(report["keys"]), expected ^ set(report["keys"])
    for key, note in report["keys"].items():
        assert note["kind"] in KINDS, key
        assert "unknown key" not in note["note"], key  # every Backend.AI key is known by name
        if note["kind"] == "warned":
            assert any(warning.startswith(key + ": ") for warning in report["warnings"]) or not report["ok"], key


def test_backendai_23_09_and_newer_conf_samples_pass_check_config():
    for name in ("webserver-sample-23.09.conf", "webserver-sample.conf"):
        report = check_json(FIXTURES / name)
        assert report["ok"], (name, report["problems"])
        warned = {w.split(":")[0] for w in report["warnings"]}
        # What used to vanish silently is now named.
        assert {"session.flush_on_startup", "debug.enabled", "logging.drivers"} <= warned


def test_backendai_toml_sample_is_read_and_only_its_own_gaps_refused(tmp_path: Path):
    """sample.toml (25.12+/26.x) is read; its only problems are the ones it has in Backend.AI too:
    HTTPS without a certificate, and Sentinels without service-name."""
    report = check_json(FIXTURES / "webserver-sample.toml")
    assert sorted(report["problems"]) == [
        "service.ssl_enabled: ssl_enabled requires both ssl_cert and ssl_privkey",
        "session.redis: service_name is required with sentinel (Sentinel's name of the master)",
    ]
    text = (FIXTURES / "webserver-sample.toml").read_text()
    text = text.replace("ssl-enabled = true", "ssl-enabled = false").replace(
        '## service-name = "backend-ai"', 'service-name = "backend-ai"'
    )
    text = text.replace('static-path = "/var/www/backend.ai/static"', f'static-path = "{tmp_path}"')
    fixed = tmp_path / "sample.toml"
    fixed.write_text(text)
    report = check_json(fixed)
    assert report["ok"], report["problems"]
    config = parse_config(tomllib.loads(text))
    assert config.session.redis.sentinel == ["redis-sentinel:26379"] and config.session.redis.use_tls
    assert config.etcd.addr == ["etcd-cluster:2379"] and config.etcd.namespace == "backend"
    assert config.api.endpoint_policy == "least_connections" and config.api.unhealthy_after == 3  # aliases
    assert config.api.jwt_expiration == 3600 and config.runtime.log_level == "INFO"
    assert config.security.cookie_secure is True
    assert config.session.redis.redis_helper_config.socket_timeout == 10.0


def test_warnings_are_printed_by_name_and_logged_at_start(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text(
        "[session]\nflush_on_startup = true\n[debug]\nenabled = true\n[pyroscope]\nenabled = true\n[mystery]\nkey = 1\n"
    )
    status, out, _err = run_cli("check-config", "-f", str(path))
    assert status == 0 and out.endswith("ok\n")
    for key in ("session.flush_on_startup", "debug.enabled", "pyroscope.enabled", "mystery.key: unknown key"):
        assert f"warning: {key}" in out


def test_settings_we_cannot_honour_are_refused_by_name():
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "apollo-router": {"enabled": True, "endpoints": "http://r:4000"},
                "jwt": {"algorithm": "RS256"},
                "session": {"redis": {"override-configs": {"stream": {"addr": "x:1"}}}},
            }
        )
    text = "\n".join(caught.value.problems)
    assert "apollo_router.enabled: Apollo Router is not supported" in text
    assert "jwt.algorithm: only HS256" in text
    assert "session.redis.override_configs" in text


def test_backendai_names_are_read_as_ours_unless_ours_is_set():
    config = parse_config(
        {
            "api": {"health-check-failure-threshold": 4, "endpoint-selection-policy": "least_connections"},
            "logging": {"level": "WARN"},
            "jwt": {"token-expiration-seconds": 600},
        }
    )
    assert (config.api.unhealthy_after, config.api.endpoint_policy) == (4, "least_connections")
    assert config.runtime.log_level == "WARNING" and config.api.jwt_expiration == 600
    config = parse_config({"api": {"unhealthy_after": 2, "health_check_failure_threshold": 9}})
    assert config.api.unhealthy_after == 2


def test_webui_keys_table_covers_every_key_config_toml_renders():
    import fnmatch

    from frontdoor.webui_config import DEFAULTS

    ours = {"service.enable_signup", "pipeline.endpoint", "pipeline.frontend_endpoint", "api.domain"}
    for section, key in DEFAULTS:
        dotted = f"{section}.{key}".lower().replace("wsproxy_url", "wsproxy.url")
        assert dotted in ours or any(fnmatch.fnmatchcase(dotted, p) for p in WEBUI), dotted
    assert all(pattern and meaning and note for pattern, meaning, note in WARNED)


def test_redis_sentinel_forms_and_rules():
    for form in (
        "10.0.0.1:26379,10.0.0.2:26379",
        ["10.0.0.1:26379", "10.0.0.2:26379"],
        [{"host": "10.0.0.1", "port": 26379}, {"host": "10.0.0.2", "port": 26379}],
    ):
        config = parse_config({"session": {"redis": {"sentinel": form, "service_name": "mymaster"}}})
        assert config.session.redis.sentinel == ["10.0.0.1:26379", "10.0.0.2:26379"]
        assert not config.embeds_redis  # a Sentinel-only section never falls back to the embedded Redis
        assert config.redis_addr == "sentinel 10.0.0.1:26379,10.0.0.2:26379 (mymaster)"
    config = parse_config({"session": {"redis": {"addr": {"host": "redis", "port": 6380}, "request_timeout": 2500}}})
    assert config.session.redis.addr == "redis:6380" and config.session.redis.socket_timeout == 2.5
    with pytest.raises(ConfigError, match="service_name is required"):
        parse_config({"session": {"redis": {"sentinel": "a:1"}}})
    with pytest.raises(ConfigError, match="not host:port"):
        parse_config({"session": {"redis": {"sentinel": "a:1,b"}}})


def test_etcd_endpoint_forms_and_credentials():
    for form in ("a:2379,b:2379", ["a:2379", "b:2379"], [{"host": "a", "port": 2379}, {"host": "b", "port": 2379}]):
        config = parse_config({"etcd": {"addr": form}})
        assert config.etcd_endpoints == ["a:2379", "b:2379"] and config.etcd_addr == "a:2379,b:2379"
    config = parse_config({"etcd": {"addr": {"host": "etcd", "port": 2379}, "user": "u", "password": "p"}})
    assert config.etcd_endpoints == ["etcd:2379"] and config.etcd.user == "u"
    with pytest.raises(ConfigError, match="user and password go together"):
        parse_config({"etcd": {"addr": "a:1", "user": "u"}})
    assert parse_config({"etcd": {"addr": "a:1", "ca_file": "/x.pem"}}).etcd.tls


def test_accepted_only_redis_keys_are_warned_about():
    config = parse_config(
        {
            "session": {
                "redis": {"addr": "r:6379", "password": "x", "redis_helper_config": {"connection_ready_timeout": 30}}
            }
        }
    )
    warned = {w.split(":")[0] for w in config.warnings}
    assert {"session.redis.password", "session.redis.redis_helper_config.connection_ready_timeout"} <= warned
    config = parse_config({"session": {"redis": {"sentinel": "s:26379", "service_name": "m", "password": "x"}}})
    assert not any(w.startswith("session.redis.password") for w in config.warnings)  # it authenticates to Sentinels


def test_docs_table_lists_every_key_of_the_samples():
    text = (Path(__file__).resolve().parents[2] / "docs" / "backendai-config.md").read_text()
    for name in SAMPLES:
        for key in leaf_keys(normalise_keys(tomllib.loads((FIXTURES / name).read_text()))):
            assert f"| `{key}` |" in text, (name, key)


def test_run_names_the_ignored_keys_in_its_banner(tmp_path: Path):
    from webui_host.banner import banner
    from webui_host.host_setup import resolve
    from webui_host.manager_choice import ManagerChoice

    path = tmp_path / "c.toml"
    path.write_text(
        f'[api]\nendpoint = "http://m:8080"\n[session]\nflush_on_startup = true\n[runtime]\nstate_dir = "{tmp_path}"\n'
    )
    text = banner(resolve(path), ManagerChoice("file", ["http://m:8080"]), tmp_path / "supervisord.conf")
    assert "warning     session.flush_on_startup: ignored" in text


def test_check_config_names_missing_tls_files(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_text(
        f'[session.redis]\naddr = "r:6379"\nuse_tls = true\ntls_ca_file = "{tmp_path}/nope.pem"\n'
        f'[etcd]\naddr = "e:2379"\nca_file = "{tmp_path}/ca.pem"\n'
    )
    report = check_json(path)
    assert f"session.redis.tls_ca_file: {tmp_path}/nope.pem is not a file" in report["problems"]
    assert f"etcd.ca_file: {tmp_path}/ca.pem is not a file" in report["problems"]
