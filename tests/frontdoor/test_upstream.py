"""What goes upstream: table-driven cases for paths, headers, cookies and client addresses."""

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from frontdoor.upstream import (
    PROXIED_POLICY,
    NotRouted,
    UnsafePath,
    client_address,
    cookie_rules,
    downstream_headers,
    foreign_target_refusal,
    media_type,
    routed_rest,
    upstream_headers,
    upstream_target,
)

MANAGER = cookie_rules("AIOHTTP_SESSION", "sToken", "/func", manager=True)


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
        incoming,
        api_version="v7.20230615",
        domain="default",
        host="m:8091",
        client_ip="1.2.3.4",
        scheme="https",
        withheld_cookies={"aiohttp_session"},
        signed={"Date": "D", "Authorization": "BackendAI sig"},
    )
    assert headers["Authorization"] == "BackendAI sig"
    assert headers["Cookie"] == "other=1"
    assert "X-BackendAI-SessionID" not in headers and "Origin" not in headers
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["Host"] == "m:8091"
    assert (headers["X-Forwarded-For"], headers["X-Forwarded-Host"], headers["X-Forwarded-Proto"]) == (
        "1.2.3.4",
        "web.example.com",
        "https",
    )


def test_hop_by_hop_and_server_headers_are_not_relayed():
    upstream = CIMultiDictProxy(
        CIMultiDict(
            {
                "Connection": "close",
                "Transfer-Encoding": "chunked",
                "Server": "Python",
                "X-RateLimit-Limit": "1000",
                "Content-Type": "application/json",
            }
        )
    )
    assert dict(downstream_headers(upstream, cookies=MANAGER)) == {
        "X-RateLimit-Limit": "1000",
        "Content-Type": "application/json",
        "Content-Security-Policy": PROXIED_POLICY,
        "X-Content-Type-Options": "nosniff",
    }


def test_an_upstream_s_cors_headers_are_not_relayed():
    # Ours are set by the security hook, which skips its own look for them on a relayed answer.
    upstream = CIMultiDictProxy(
        CIMultiDict(
            [
                ("Access-Control-Allow-Origin", "*"),
                ("Content-Type", "application/json"),
                ("access-control-allow-credentials", "true"),
                ("ACCESS-CONTROL-EXPOSE-HEADERS", "X"),
                ("Access-Control-Max-Age", "9"),
                ("Access-Controlled", "kept: not a CORS header"),
            ]
        )
    )
    assert list(downstream_headers(upstream, cookies=MANAGER).items()) == [
        ("Content-Type", "application/json"),
        ("Access-Controlled", "kept: not a CORS header"),
        ("Content-Security-Policy", PROXIED_POLICY),
        ("X-Content-Type-Options", "nosniff"),
    ]


# ---- request targets: only ours, routed by segments, composed by yarl ----


@pytest.mark.parametrize(
    "target, host, refused",
    [
        ("/webapi/x/y?q=1", "front:8090", False),
        ("//evil.example/x", "front:8090", False),  # origin-form: a path that starts with two slashes
        ("http://front:8090/webapi/x/y", "front:8090", False),
        ("HTTP://FRONT:8090/x", "front:8090", False),
        ("https://front:8090/x", "front:8090", False),
        ("http://AAAAA@127.0.0.1:9/webapi/x/y", "front:8090", True),
        ("http://AAAAA@127.0.0.1:9/webapi/x/y", "127.0.0.1:9", True),  # userinfo, whatever the Host
        ("http://front:8090@127.0.0.1:9/x", "front:8090", True),
        ("http://127.0.0.1:9/webapi/x/y", "front:8090", True),
        ("http://front:8091/x", "front:8090", True),
        ("http://front/x", "front:8090", True),
        ("http://front:8090/x", None, True),
        ("http:///x", "front:8090", True),
        ("ftp://front:8090/x", "front:8090", True),
        ("zz://@127.0.0.1:9/func/x", "front:8090", True),
        ("front:8090", "front:8090", True),
        ("*", "front:8090", True),
        ("", "front:8090", True),
    ],
)
def test_foreign_request_targets_are_refused(target, host, refused):
    assert (foreign_target_refusal(target, host) is not None) is refused


@pytest.mark.parametrize(
    "target, prefix, rest",
    [
        ("/func/auth?echo=1", "/func", "/auth?echo=1"),
        ("/func/folders/_/hosts?", "/func", "/folders/_/hosts?"),
        ("/func/", "/func", "/"),
        ("/%66unc/auth", "/func", "/auth"),
        ("/%66%75%6E%63/auth?x", "/func", "/auth?x"),
        ("/webapi/x/a%2Fb/c?x=%2F&y=a+b", "/webapi/x", "/a%2Fb/c?x=%2F&y=a+b"),
        ("/webapi/%6Dname/x", "/webapi/mname", "/x"),
        ("/webapi/x//evil:9/y", "/webapi/x", "//evil:9/y"),
        ("/webapi/x/@evil:9/y", "/webapi/x", "/@evil:9/y"),
        ("http://front:8090/webapi/x/y?q", "/webapi/x", "/y?q"),
        ("http://front:8090/func/a?b?c", "/func", "/a?b?c"),
        ("/func//x", "/func", "//x"),
        ("/func/?x=/func/", "/func", "/?x=/func/"),
        ("/webapi/x/", "/webapi/x/", "/"),  # a prefix written with its trailing slash
        ("/webapi/x/y", "//webapi//x", "/y"),
    ],
)
def test_routed_rest_keeps_the_raw_segments_after_the_prefix(target, prefix, rest):
    assert routed_rest(target, prefix) == rest


@pytest.mark.parametrize(
    "target, prefix",
    [
        ("/webapi/a%2Fb/c", "/webapi/a"),  # the name holds an encoded slash: not this deployment
        ("/webapi/x%2Fy/z", "/webapi/x"),
        ("/webapi/xy/z", "/webapi/x"),
        ("/webapi/X/z", "/webapi/x"),
        ("/webapi/x", "/webapi/x"),
        ("/webapi//x/y", "/webapi/x"),
        ("/webapi/%ff/y", "/webapi/x"),
        ("/func", "/func"),
        ("/other/func/x", "/func"),
        # A prefix with a percent sign decodes to something else (``routed_rest`` compares it literally
        # only when it has none).
        ("/webapi/%41/x", "/webapi/%41"),
        ("/webapi/a%2Fb/x", "/webapi/a%2Fb"),
    ],
)
def test_paths_that_do_not_decode_to_the_prefix_are_not_routed(target, prefix):
    with pytest.raises(NotRouted):
        routed_rest(target, prefix)


@pytest.mark.parametrize("target", ["/func/x#@evil:9", "garbage", "h:80"])
def test_malformed_targets_are_refused(target):
    with pytest.raises(UnsafePath):
        routed_rest(target, "/func")


HOSTILE = [
    "http://AAAAA@127.0.0.1:9/webapi/x/y",
    "http://AAAA@127.0.0.1:9/webapi/x/y",
    "http://127.0.0.1:9/webapi/x/y",
    "/webapi/x/@127.0.0.1:9/y",
    "/webapi/x//127.0.0.1:9/y",
    "/webapi/%78/@127.0.0.1:9/y",
    "/webapi/x/y?@127.0.0.1:9",
    "/webapi/x/%40127.0.0.1:9/y",
    "/webapi/x/y?a=//127.0.0.1:9/",
    "/webapi/x/:9@127.0.0.1/y",
    "/webapi/x/y#@127.0.0.1:9",
    "/webapi/x@127.0.0.1:9/y",
    "/webapi/x/\\127.0.0.1:9/y",
]


@pytest.mark.parametrize("endpoint", ["http://up.internal:8081", "https://up.internal/base/"])
@pytest.mark.parametrize("target", HOSTILE)
def test_the_upstream_authority_is_always_the_configured_one(endpoint, target):
    try:
        built = upstream_target(endpoint, routed_rest(target, "/webapi/x"))
    except (UnsafePath, NotRouted):
        return  # refused (400/404): nothing is sent anywhere
    configured = URL(endpoint)
    assert (built.url.scheme, built.url.raw_authority, built.url.host) == (
        configured.scheme,
        configured.raw_authority,
        "up.internal",
    )
    assert built.host == configured.raw_authority
    assert built.url.raw_path.startswith(configured.raw_path.rstrip("/") + "/")
    # What the lean client connects to and writes on its request line (no URL made for it).
    tls = configured.scheme == "https"
    assert built.endpoint == (tls, "up.internal", configured.port)
    assert built.target == built.url.raw_path_qs and built.target.startswith(configured.raw_path.rstrip("/") + "/")


@pytest.mark.parametrize(
    "rest, sent",
    [
        ("/folders/_/hosts?", "/folders/_/hosts"),  # yarl and aiohttp drop an empty query: so does the signature
        ("/a??", "/a??"),
        ("/a?a=1&a=2", "/a?a=1&a=2"),
        ("/a?q=a+b", "/a?q=a+b"),
        ("/a+b", "/a+b"),
        ("/a%2Fb/c?path=%2Fhome", "/a%2Fb/c?path=%2Fhome"),
        ("/a%20b?q=a%20b", "/a%20b?q=a%20b"),
        ("/%EB%8D%B0?q=%C3%BC", "/%EB%8D%B0?q=%C3%BC"),
        ("/a?a=1&", "/a?a=1&"),
        ("/a?&", "/a?&"),
        ("/a?a=&b", "/a?a=&b"),
        ("/a;b?x=1;y=2", "/a;b?x=1;y=2"),
        ("/", "/"),
    ],
)
def test_the_signed_target_is_what_aiohttp_writes_on_the_request_line(rest, sent):
    built = upstream_target("http://m:8091", rest)
    assert built.target == built.url.raw_path_qs == sent
    assert built.url.with_scheme("ws").raw_path_qs == sent  # the WebSocket handshake's target too


# ---- answers: sandboxed (cookies: test_upstream_cookies.py) ----


def test_proxied_answers_get_our_policy_in_place_of_the_upstreams():
    upstream = CIMultiDictProxy(
        CIMultiDict(
            [
                ("Content-Type", "text/html"),
                ("Content-Security-Policy", "script-src 'unsafe-inline'"),
                ("content-security-policy", "default-src *"),
                ("X-Content-Type-Options", "nope"),
                ("Set-Cookie", "AIOHTTP_SESSION=evil"),
                ("Set-Cookie", "a=1; Domain=example.com"),
                ("Set-Cookie", "b=2"),
                ("Clear-Site-Data", '"cookies", "storage"'),
            ]
        )
    )
    headers = downstream_headers(
        upstream, cookies=cookie_rules("AIOHTTP_SESSION", "sToken", "/webapi/x", manager=False)
    )
    assert headers.getall("Content-Security-Policy") == ["sandbox; default-src 'none'; frame-ancestors 'none'"]
    assert headers.getall("X-Content-Type-Options") == ["nosniff"]
    assert headers.getall("Set-Cookie") == ["a=1; Path=/webapi/x", "b=2; Path=/webapi/x"]
    assert headers["Content-Type"] == "text/html" and "Clear-Site-Data" not in headers


def test_the_target_is_the_one_yarl_composes_over_varied_paths_and_queries():
    """``UpstreamTarget.target`` joins the strings; yarl's URL (aiohttp's client) must write the same."""
    import random

    rng = random.Random(15)
    alphabet = "abc/%2F%20+;=&?:@!$'()*,~-._" + "\u00e4\ub370"
    for endpoint in ("http://m:8091", "https://api.example.com/base/", "http://[::1]:8081/x"):
        for _ in range(2000):
            path = "/" + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))).replace("?", "")
            query = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 10)))
            rest = path + ("?" + query if rng.random() < 0.7 else "")
            try:
                built = upstream_target(endpoint, rest)
            except UnsafePath:
                continue
            assert built.target == built.url.raw_path_qs, rest
