"""Backend.AI's ``[security.csp]``: every source checked by name, and merged into our page policy."""

from __future__ import annotations

import pytest

from contract.config import ConfigError, parse_config
from contract.config_sections import DEFAULT_CSP
from contract.csp import merge_policy, parse_policy, source_problem

WSPROXY = "https://wsproxy.example.com:5050"


@pytest.mark.parametrize(
    "source",
    [
        "'self'",
        "'none'",
        "'unsafe-inline'",
        "'UNSAFE-EVAL'",
        "'nonce-abc123=='",
        "'sha256-AbC+/9='",
        "data:",
        "blob:",
        "https:",
        "*",
        "*.example.com",
        "example.com",
        "http://127.0.0.1:6021",
        "https://wsproxy.example.com:5050",
        "wss://ws.example.com",
        "https://cdn.example.com/fonts/",
        "http://[::1]:5050",
        "https://a.example.com:*",
    ],
)
def test_valid_sources(source):
    assert source_problem(source) is None


@pytest.mark.parametrize(
    "source",
    [
        "self",
        "'self",
        "'unsafe-everything'",
        "https://a.example.com; script-src *",
        "https://a.example.com,b.com",
        "https://a b.com",
        "https://a.example.com\r\nX: y",
        "",
        "https://",
        "https://a.example.com:99999x",
        5050,
        None,
        "javascript:alert(1)//",
    ],
)
def test_invalid_sources_are_named(source):
    problem = source_problem(source)
    assert problem is not None and repr(source) in problem


# (our policy, [security.csp] table, expected directives of the merged policy)
MERGES = [
    (DEFAULT_CSP, {"connect_src": ["'self'", WSPROXY]}, {"connect-src": ["'self'", WSPROXY]}),
    (
        DEFAULT_CSP,
        {"connect_src": [WSPROXY, "http://127.0.0.1:6021"]},
        {"connect-src": ["'self'", WSPROXY, "http://127.0.0.1:6021"]},
    ),
    (
        DEFAULT_CSP,
        {"default_src": ["'self'"], "font_src": ["'self'", "data:"]},
        {"default-src": ["'self'"], "font-src": ["'self'", "data:"]},
    ),
    (DEFAULT_CSP, {"frame_src": ["https://apps.example.com"]}, {"frame-src": ["'self'", "https://apps.example.com"]}),
    (DEFAULT_CSP, {"object_src": ["https://plugins.example.com"]}, {"object-src": ["https://plugins.example.com"]}),
    (
        DEFAULT_CSP,
        {"frame_ancestors": ["'none'"], "form_action": ["'self'"]},
        {"frame-ancestors": ["'none'"], "form-action": ["'self'"]},
    ),
    (
        DEFAULT_CSP,
        {"script_src": ["'self'", "https://cdn.example.com"], "img_src": None},
        {
            "script-src": ["'self'", "'nonce-{nonce}'", "https://cdn.example.com"],
            "img-src": ["'self'", "data:", "blob:"],
        },
    ),
    (DEFAULT_CSP, {}, {}),
    (DEFAULT_CSP, None, {}),
]


@pytest.mark.parametrize("policy, table, changed", MERGES)
def test_merge_adds_sources_and_keeps_every_other_directive(policy, table, changed):
    merged = dict(parse_policy(merge_policy(policy, table)))
    ours = dict(parse_policy(policy))
    for name, sources in ours.items():
        assert merged[name] == changed.get(name, sources), name
    for name, sources in changed.items():
        assert merged[name] == sources
    assert set(merged) == set(ours) | set(changed)


@pytest.mark.parametrize(
    "table, named",
    [
        ({"connect-src": ["'self'", "https://ws example.com"]}, "security.csp.connect-src: 'https://ws example.com'"),
        ({"script-src": ["'self'", "'unsafe-everything'"]}, "security.csp.script-src: \"'unsafe-everything'\""),
        ({"connect-src": "https://ws.example.com"}, "security.csp.connect-src: must be a list"),
        ({"script-src-elem": ["'self'"]}, "security.csp.script-src-elem: not a directive"),
        ({"report-uri": ["https://r.example.com"]}, "security.csp.report-uri: not a directive"),
        ({"img-src": ["data:", "https://a.example.com;script-src *"]}, "security.csp.img-src: 'https://a.example.com;"),
    ],
)
def test_config_check_refuses_invalid_csp_by_name(table, named):
    with pytest.raises(ConfigError) as raised:
        parse_config({"security": {"csp": table}})
    assert any(problem.startswith(named) for problem in raised.value.problems), raised.value.problems


def test_a_valid_table_becomes_the_page_policy():
    config = parse_config({"security": {"csp": {"connect-src": ["'self'", WSPROXY]}}})
    assert f"connect-src 'self' {WSPROXY}" in config.security.page_policy
    assert "object-src 'none'" in config.security.page_policy
    assert parse_config({}).security.page_policy == DEFAULT_CSP


@pytest.mark.parametrize(
    "section, named",
    [
        (
            {"request_policies": ["reject_metadata_local_link_policy", "reject_everything"]},
            "security.request_policies: unknown security policy 'reject_everything'",
        ),
        (
            {"response_policies": ["set_hsts_policy"]},
            "security.response_policies: unknown security policy 'set_hsts_policy'",
        ),
    ],
)
def test_unknown_backend_ai_security_policies_are_refused_by_name(section, named):
    with pytest.raises(ConfigError) as raised:
        parse_config({"security": section})
    assert any(problem.startswith(named) for problem in raised.value.problems), raised.value.problems
