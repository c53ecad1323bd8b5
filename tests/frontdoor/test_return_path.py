"""Return-path validation and same-origin form posts: tables of known open-redirect and CSRF tricks."""

from __future__ import annotations

import pytest

from frontdoor.return_path import DEFAULT_RETURN_PATH, is_same_origin_post, safe_return_path


@pytest.mark.parametrize(
    "candidate",
    [
        "/ui/",
        "/ui/console",
        "/ui/console?path=auth%3Fecho%3Dhi",
        "/summary",
        "/ui/console#result",
        "/ui@evil.example",  # a path on our origin, whatever it looks like
    ],
)
def test_same_origin_paths_are_kept(candidate):
    assert safe_return_path(candidate) == candidate


@pytest.mark.parametrize(
    "candidate",
    [
        None,
        "",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "\\/evil.example",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%252F%252Fevil.example",  # double encoded
        "/%25252F%25252Fevil.example",
        "/%5Cevil.example",
        "/%5C%5Cevil.example",
        "https://evil.example",
        "http:evil.example",
        "http:/evil.example",
        "HTTPS://evil.example/ui/",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "/\tjavascript:alert(1)",
        "/\t/evil.example",
        "/%09/evil.example",
        "/\r\n/evil.example",
        " /ui/",
        "%2F%2Fevil.example",
        "evil.example",
        "data:text/html,<script>alert(1)</script>",
        "/\u2215\u2215evil.example",  # division slashes
        "/ui/\u3002evil",
        "/ui/login",
        "/ui/login?next=//evil.example",
        "/ui/logout",
        "/server/logout",
        "/func/auth",
        "/api/auth/logout",
        "/" + "a" * 3000,
    ],
)
def test_other_origins_and_tricks_fall_back_to_home(candidate):
    assert safe_return_path(candidate) == DEFAULT_RETURN_PATH


@pytest.mark.parametrize(
    "host, origin, fetch_site, allowed",
    [
        ("127.0.0.1:8090", "http://127.0.0.1:8090", "same-origin", True),
        ("127.0.0.1:8090", "https://127.0.0.1:8090", None, True),  # TLS terminated in front of us
        ("webui.example", "https://WEBUI.example", "same-origin", True),
        ("127.0.0.1:8090", None, None, True),  # not a browser: curl, tests
        ("127.0.0.1:8090", None, "none", True),  # typed into the address bar
        ("127.0.0.1:8090", "http://evil.example", "cross-site", False),
        ("127.0.0.1:8090", "http://127.0.0.1:8091", "same-site", False),
        ("127.0.0.1:8090", None, "cross-site", False),
        ("127.0.0.1:8090", None, "same-site", False),
        ("127.0.0.1:8090", "null", None, False),  # sandboxed iframe, data: URL
        ("127.0.0.1:8090", "http://127.0.0.1:8090.evil.example", None, False),
        ("127.0.0.1:8090", "http://127.0.0.1:8090/path", None, False),
        ("127.0.0.1:8090", "file://127.0.0.1:8090", None, False),
    ],
)
def test_same_origin_post(host, origin, fetch_site, allowed):
    assert is_same_origin_post(host, origin, fetch_site) is allowed
