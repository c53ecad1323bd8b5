"""What goes upstream: table-driven cases for paths, headers, cookies and client addresses."""

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from frontdoor.upstream import (
    UnsafePath,
    client_address,
    downstream_headers,
    forwarded_cookies,
    media_type,
    upstream_headers,
    upstream_target,
)


@pytest.mark.parametrize(
    "endpoint, rest, host, target",
    [
        ("http://127.0.0.1:8091", "/auth?echo=1", "127.0.0.1:8091", "/auth?echo=1"),
        ("https://api.example.com/base/", "/admin/gql", "api.example.com", "/base/admin/gql"),
        ("http://m:8091", "/folders/a%20b/files?x=%2F", "m:8091", "/folders/a%20b/files?x=%2F"),
    ],
)
def test_upstream_target_keeps_the_raw_target(endpoint, rest, host, target):
    built = upstream_target(endpoint, rest)
    assert (built.host, built.target) == (host, target)


@pytest.mark.parametrize(
    "rest",
    ["/../etc/passwd", "/a/%2e%2e/b", "/a/%2E%2E", "/./x", "/a\\b", "/a%00b", "/a\r\nX: y", "/a/%2e/b"],
)
def test_unsafe_paths_are_refused(rest):
    with pytest.raises(UnsafePath):
        upstream_target("http://m:1", rest)


@pytest.mark.parametrize(
    "header, expected",
    [
        (None, "application/octet-stream"),
        ("", "application/octet-stream"),
        ("application/JSON; charset=UTF-8", "application/json"),
        ("multipart/form-data; boundary=xyz", "multipart/form-data"),
    ],
)
def test_media_type_is_what_the_manager_signs(header, expected):
    assert media_type(header) == expected


@pytest.mark.parametrize(
    "peer, xff, trusted, expected",
    [
        ("10.0.0.9", "1.2.3.4", set(), "10.0.0.9"),  # untrusted peer: its header is ignored
        ("10.0.0.1", "1.2.3.4", {"10.0.0.1"}, "1.2.3.4"),
        ("10.0.0.1", "6.6.6.6, 1.2.3.4, 10.0.0.2", {"10.0.0.1", "10.0.0.2"}, "1.2.3.4"),  # spoofed left-most
        ("10.0.0.1", "not-an-ip", {"10.0.0.1"}, "10.0.0.1"),
        (None, None, set(), ""),
    ],
)
def test_client_address(peer, xff, trusted, expected):
    assert client_address(peer, xff, frozenset(trusted)) == expected


def test_our_session_cookie_is_never_forwarded():
    assert forwarded_cookies("AIOHTTP_SESSION=abc; sToken=t; theme=dark", "AIOHTTP_SESSION") == "sToken=t; theme=dark"
    assert forwarded_cookies("AIOHTTP_SESSION=abc", "AIOHTTP_SESSION") is None


def test_upstream_headers_allow_list():
    incoming = CIMultiDictProxy(
        CIMultiDict(
            {
                "Host": "web.example.com",
                "Authorization": "Bearer from-browser",
                "Cookie": "AIOHTTP_SESSION=abc; other=1",
                "X-BackendAI-SessionID": "abc",
                "Origin": "https://evil.example",
                "Content-Type": "application/json; charset=utf-8",
                "Accept-Language": "ko",
                "X-Forwarded-For": "6.6.6.6",
            }
        )
    )
    headers = upstream_headers(
        incoming, api_version="v7.20230615", domain="default", host="m:8091", client_ip="1.2.3.4", scheme="https",
        session_cookie="AIOHTTP_SESSION", signed={"Date": "D", "Authorization": "BackendAI sig"},
    )
    assert headers["Authorization"] == "BackendAI sig"
    assert headers["Cookie"] == "other=1"
    assert "X-BackendAI-SessionID" not in headers and "Origin" not in headers
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Host"] == "m:8091"
    assert (headers["X-Forwarded-For"], headers["X-Forwarded-Host"], headers["X-Forwarded-Proto"]) == (
        "1.2.3.4", "web.example.com", "https")


def test_hop_by_hop_and_server_headers_are_not_relayed():
    upstream = CIMultiDictProxy(CIMultiDict(
        {"Connection": "close", "Transfer-Encoding": "chunked", "Server": "Python", "X-RateLimit-Limit": "1000",
         "Content-Type": "application/json"}))
    assert dict(downstream_headers(upstream)) == {"X-RateLimit-Limit": "1000", "Content-Type": "application/json"}
