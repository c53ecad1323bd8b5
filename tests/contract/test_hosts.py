"""Host header syntax and the published-hosts policy (``contract.hosts``), and its configuration check."""

from __future__ import annotations

import pytest

from contract.config import ConfigError, parse_config
from contract.hosts import MAX_REMEMBERED_HOSTS, HostPolicy, HostPort, canonical_host, parse_host


@pytest.mark.parametrize(
    "value, parsed",
    [
        ("webui.example.com", HostPort("webui.example.com", None)),
        ("WebUI.Example.com:8443", HostPort("webui.example.com", 8443)),
        ("webui.example.com.", HostPort("webui.example.com.", None)),
        ("[::1]:8090", HostPort("[::1]", 8090)),
        ("[0:0:0:0:0:0:0:1]", HostPort("[::1]", None)),
        ("10.0.0.5", HostPort("10.0.0.5", None)),
        ("", None),
        (None, None),
        (" a.com", None),
        ("a.com ", None),
        ("127.0.0.1@evil.com", None),
        ("evil.com/x", None),
        ("evil.com:", None),
        ("evil.com:0", None),
        ("evil.com:65536", None),
        ("evil.com:8o", None),
        ("a:1:2", None),
        ("[::1", None),
        ("[evil]", None),
        ("[::1]x", None),
        ("evil.com\r\nx: y", None),
        ("-evil.com", None),
        ("evil..com", None),
        ("*.example.com", None),
        ("http://a.com", None),
    ],
)
def test_parse_host(value, parsed):
    assert parse_host(value) == parsed


POLICY = HostPolicy(["webui.example.com", "api.example.com:9443", "[2001:db8::5]"], listen_ip="10.0.0.5")


@pytest.mark.parametrize(
    "values, verdict",
    [
        (["webui.example.com"], None),
        (["webui.example.com:1234"], None),
        (["api.example.com:9443"], None),
        (["[2001:db8::5]:443"], None),
        (["10.0.0.5:8090"], None),
        (["localhost:8090"], None),
        (["127.0.0.2"], None),
        (["[::1]"], None),
        (["api.example.com"], 421),
        (["api.example.com:443"], 421),
        (["evil.com"], 421),
        (["webui.example.com."], 421),
        (["10.0.0.6"], 421),
        (["[2001:db8::6]"], 421),
        (["localhost.evil.com"], 421),
        ([], 400),
        ([""], 400),
        (["webui.example.com", "webui.example.com"], 400),
        (["a@b"], 400),
    ],
)
def test_policy_verdicts(values, verdict):
    assert POLICY.verdict(values) == verdict
    assert POLICY.verdict(values) == verdict  # the second time from what the policy remembered


def test_remembered_verdicts_are_bounded_and_hosts_past_the_bound_are_still_judged():
    policy = HostPolicy(["webui.example.com"])
    for n in range(MAX_REMEMBERED_HOSTS + 100):  # a client making up Host values
        assert policy.verdict([f"h{n}.evil.com"]) == 421
    assert len(policy._verdicts) == MAX_REMEMBERED_HOSTS
    assert policy.verdict(["webui.example.com"]) is None and policy.verdict(["a@b"]) == 400


def test_an_unspecified_listen_address_publishes_nothing():
    assert HostPolicy([], listen_ip="0.0.0.0").verdict(["0.0.0.0"]) == 421
    assert HostPolicy([], listen_ip="::").verdict(["[::]"]) == 421


@pytest.mark.parametrize("entry", ["https://webui.example.com", "webui.example.com/ui", "*.example.com", "a b", ""])
def test_config_check_refuses_a_bad_public_host_by_name(entry):
    with pytest.raises(ConfigError) as raised:
        parse_config({"service": {"public_hosts": ["webui.example.com", entry]}})
    assert any(p.startswith("service.public_hosts") and repr(entry) in p for p in raised.value.problems)


def test_public_hosts_may_be_one_comma_separated_string():
    assert parse_config({"service": {"public-hosts": "a.example.com, b.example.com:8443"}}).service.public_hosts == [
        "a.example.com",
        "b.example.com:8443",
    ]


@pytest.mark.parametrize(
    "value, canonical",
    [
        ("WebUI.Example.com:8443", "webui.example.com:8443"),
        ("[0:0:0:0:0:0:0:1]:8090", "[::1]:8090"),
        ("127.0.0.1", "127.0.0.1"),
        ("a b", "a b"),
    ],
)
def test_canonical_host(value, canonical):
    assert canonical_host(value) == canonical
