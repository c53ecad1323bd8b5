"""Origins: the CORS allow-list entries and the matching of a browser's Origin header (security edges)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contract.config import ConfigError, parse_config
from contract.origins import OriginPolicy, normalise_origin, parse_allowed_origin

POLICY = OriginPolicy.from_strings(
    ["https://console.example.com", "https://*.apps.example.com", "http://127.0.0.1:3000", "https://*.example.org:8443"]
)


@pytest.mark.parametrize(
    "origin, allowed",
    [
        ("https://console.example.com", True),
        ("https://CONSOLE.example.com", True),  # host names are case-insensitive
        ("https://console.example.com:443", True),  # the default port is the same origin
        ("https://a.apps.example.com", True),
        ("https://a.b.apps.example.com", True),  # any depth of subdomain
        ("http://127.0.0.1:3000", True),
        ("https://x.example.org:8443", True),
        # not listed, or lookalikes of listed ones
        ("https://apps.example.com", False),  # the wildcard covers subdomains, not the domain itself
        ("https://evilapps.example.com", False),
        ("https://a.apps.example.com.evil.net", False),
        ("https://console.example.com.evil.net", False),
        ("https://evil.net/console.example.com", False),
        ("http://console.example.com", False),  # another scheme is another origin
        ("https://console.example.com:8443", False),  # another port too
        ("http://127.0.0.1:3001", False),
        ("https://x.example.org", False),  # wildcard entry with a port: the port must match
        ("https://a.apps.example.com.", False),  # trailing dot
        # not an origin at all
        ("null", False),
        ("", False),
        (None, False),
        ("*", False),
        ("https://*.apps.example.com", False),  # a browser never sends a wildcard
        ("https://console.example.com/", False),
        ("https://console.example.com/path", False),
        ("https://user@console.example.com", False),
        ("https://console.example.com\r\nX-Injected: 1", False),
        (" https://console.example.com", False),
        ("https://console.example.com:99999", False),
        ("https://console.example.com:0", False),
        ("javascript://console.example.com", False),
        ("https://console.example.com" + "a" * 400, False),
    ],
)
def test_policy_matches_only_listed_origins(origin, allowed):
    assert POLICY.allows(origin) is allowed


@pytest.mark.parametrize(
    "entry, canonical",
    [
        ("https://App.Example.com/", "https://app.example.com"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://app.example.com:8080", "http://app.example.com:8080"),
        ("https://*.example.com", "https://*.example.com"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ],
)
def test_allow_list_entries_are_normalised(entry, canonical):
    assert str(parse_allowed_origin(entry)) == canonical


@pytest.mark.parametrize(
    "entry",
    [
        "*",
        "https://*",
        "https://*.com",
        "null",
        "https://a.*.example.com",
        "https://*example.com",
        "ftp://a.example.com",
        "https://a.example.com/path",
        "a.example.com",
        "https://*.*.example.com",
        "https://a.example.com:70000",
        "",
    ],
)
def test_bad_allow_list_entries_are_refused(entry):
    with pytest.raises(ValueError, match="is not an origin"):
        parse_allowed_origin(entry)


def test_config_reports_a_bad_origin_and_normalises_good_ones():
    config = parse_config({"security": {"cors_allowed_origins": "https://A.example.com/, https://*.b.example.com"}})
    assert config.security.cors_allowed_origins == ["https://a.example.com", "https://*.b.example.com"]
    with pytest.raises(ConfigError, match="security.cors_allowed_origins"):
        parse_config({"security": {"cors_allowed_origins": ["*"]}})


def test_config_cross_checks_the_redirect_port():
    with pytest.raises(ConfigError, match="needs service.ssl_enabled"):
        parse_config({"security": {"http_redirect_port": 8080}})
    with pytest.raises(ConfigError, match="must differ from service.port"):
        parse_config(
            {
                "service": {"ssl_enabled": True, "ssl_cert": "c", "ssl_privkey": "k", "port": 8443},
                "security": {"http_redirect_port": 8443},
            }
        )


def test_empty_policy_allows_nothing():
    policy = OriginPolicy.from_strings([])
    assert not policy and not policy.allows("https://console.example.com")


@given(st.text(max_size=80))
def test_any_text_is_either_a_canonical_origin_or_refused(text):
    canonical = normalise_origin(text)
    if canonical is not None:
        assert normalise_origin(canonical) == canonical
        assert re.fullmatch(r"https?://[a-z0-9.\-\[\]:]+", canonical)
