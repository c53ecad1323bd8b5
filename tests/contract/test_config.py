"""Configuration: Backend.AI's keys accepted, our keys validated, every problem reported at once."""

import pytest

from contract.config import ConfigError, merge_global_overrides, parse_config
from service_runtime.config_file import load_config


def test_embedded_default():
    config = parse_config({})
    assert config.service.port == 8090 and config.embeds_redis and config.embeds_etcd
    assert config.redis_addr == "127.0.0.1:8111" and config.devstack_endpoint == "http://127.0.0.1:8091"


def test_backend_ai_webserver_conf_is_accepted(tmp_path):
    path = tmp_path / "webserver.conf"
    path.write_text(
        """
[service]
ip = "0.0.0.0"
port = 8080
mode = "webui"
enable-signup = false

[api]
domain = "default"
endpoint = "https://api1.example.com, https://api2.example.com/"
text = "Backend.AI Cloud"
ssl-verify = false

[session]
redis.addr = "10.0.0.5:6379"
max_age = 3600
login_block_time = 600
login_allowed_fail_count = 5

[ui]
brand = "Lablup Cloud"
"""
    )
    config = load_config(path)
    assert config.api.endpoint == ["https://api1.example.com", "https://api2.example.com"]
    assert config.api.ssl_verify is False
    assert config.redis_addr == "10.0.0.5:6379" and not config.embeds_redis
    assert config.session.login_allowed_fail_count == 5


def test_all_problems_reported_together():
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "service": {"port": 70000, "ssl_enabled": True},
                "api": {"endpoint": "ftp://x"},
                "signers": {"count": 0, "colour": "blue"},
                "session": {"redis": {"addr": "nohost"}},
            }
        )
    text = "\n".join(caught.value.problems)
    for fragment in (
        "service.port",
        "ssl_enabled requires",
        "api.endpoint",
        "signers.count",
        "signers.colour",
        "session.redis.addr",
    ):
        assert fragment in text, fragment


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("ftp://x", "is not an http(s) URL"),
        ("api.example.com", "is not an http(s) URL"),
        ("https://", "names no host"),
        ("https://admin:secret@api.example.com", "may not carry a user or password"),
        ("https://admin@api.example.com", "may not carry a user or password"),
        ("https://api.example.com/?x=1", "has a query or fragment"),
        ("https://api.example.com#top", "has a query or fragment"),
    ],
)
def test_manager_endpoints_that_cannot_be_used_are_refused_by_name(endpoint, problem):
    with pytest.raises(ConfigError) as caught:
        parse_config({"api": {"endpoint": endpoint}})
    assert any(line.startswith("api.endpoint:") and problem in line for line in caught.value.problems)
    if "secret" in endpoint:
        assert "secret" not in str(caught.value)  # a password in the file is not echoed to a terminal/log


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        bad = tmp_path / "bad.toml"
        bad.write_text("[service\nport=1")
        load_config(bad)
    with pytest.raises(ConfigError):
        load_config(tmp_path / "missing.toml")


def test_etcd_overrides_global_settings_but_not_bootstrap():
    merged = merge_global_overrides(
        {"session": {"redis": {"addr": "a:1"}, "max_age": 60}, "service": {"port": 1}},
        {"session": {"max-age": 120, "redis": {"addr": "evil:1"}}, "service": {"port": 2}, "api": {"domain": "d"}},
    )
    assert merged == {
        "session": {"redis": {"addr": "a:1"}, "max_age": 120},
        "service": {"port": 1},
        "api": {"domain": "d"},
    }
