"""The upstream request's bytes as the lean client writes them (``upstream_fields`` + ``merge_fields`` +
``fields_wire``, the ninth session's one pass) against the way they were made before it: a CIMultiDict
of ``upstream_headers``, updated with the trace context and the signature, the decoded body's length set,
then ``request_wire`` over its pairs.  The old way is kept below as it was on main, as the reference;
the varied requests cover methods, bodies, query strings, cookies to withhold and headers to drop."""

from __future__ import annotations

import itertools
import random
from collections.abc import Collection, Iterable

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from frontdoor.lean_client import EMPTY_BODY_LENGTH, fields_wire
from frontdoor.upstream import (
    FORWARDED_REQUEST_HEADERS,
    USER_AGENT,
    _bare_cookie_name,
    cookie_rules,
    merge_fields,
    upstream_fields,
    upstream_headers,
)
from service_runtime.http1 import request_bytes

# ---- the reference: main's code before the one pass (d6eb72b) ----


def _old_forwarded_cookies(cookie_header: str | None, withheld: Collection[str]) -> str | None:
    if not cookie_header:
        return None
    kept = [
        pair.strip()
        for pair in cookie_header.split(";")
        if pair.strip() and _bare_cookie_name(pair.split("=", 1)[0]) not in withheld
    ]
    return "; ".join(kept) or None


def _old_upstream_headers(incoming, *, api_version, domain, host, client_ip, scheme, withheld_cookies, signed,
                          request_id="", trace=None) -> CIMultiDict[str]:  # fmt: skip
    headers: CIMultiDict[str] = CIMultiDict()
    for name in FORWARDED_REQUEST_HEADERS:
        if name in incoming:
            headers[name] = incoming[name]
    cookies = _old_forwarded_cookies(incoming.get("Cookie"), withheld_cookies)
    if cookies:
        headers["Cookie"] = cookies
    headers["Host"] = host
    headers["User-Agent"] = USER_AGENT
    headers["X-BackendAI-Version"] = api_version
    headers["X-BackendAI-Domain"] = domain
    headers["X-Forwarded-For"] = client_ip
    headers["X-Forwarded-Host"] = incoming.get("Host", "")
    headers["X-Forwarded-Proto"] = scheme
    if request_id:
        headers["X-Request-ID"] = request_id
    if trace:
        headers.update(trace)
    headers.update(signed)
    return headers


def _old_request_wire(method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes = b"") -> bytes:
    host, fields, has_length = None, [], False
    for pair in headers:
        size = len(pair[0])
        if size == 4 and host is None and pair[0].lower() == "host":
            host = pair[1]
            continue
        if size == 14 and not has_length:
            has_length = pair[0].lower() == "content-length"
        fields.append(pair)
    if host is None:
        raise ValueError("no Host header")
    if (body or method in EMPTY_BODY_LENGTH) and not has_length:
        fields.append(("Content-Length", str(len(body))))
    return request_bytes(method, host, target, fields, body)


def _old_wire(method, target, incoming, common, signed, trace, decoded) -> bytes:
    """Prework.run + Prework.headers + LeanClient.send as they were."""
    headers = _old_upstream_headers(incoming, **common, signed={})
    if trace:
        headers.update(trace)
    headers.update(signed)
    if decoded is not None:
        headers["Content-Length"] = str(len(decoded))
    return _old_request_wire(method, target, headers.items(), decoded or b"")


def _new_wire(method, target, incoming, common, signed, trace, decoded) -> bytes:
    fields = upstream_fields(incoming, **common)
    if trace:
        merge_fields(fields, trace)
    merge_fields(fields, signed)
    if decoded is not None:
        fields["content-length"] = ("Content-Length", str(len(decoded)))
    return fields_wire(method, target, fields, decoded or b"")


# ---- varied requests ----

METHODS = ("GET", "HEAD", "DELETE", "OPTIONS", "POST", "PUT", "PATCH")
TARGETS = ("/", "/auth?echo=1", "/folders/a%2Fb/files?path=%2Fhome&x=", "/a;b?q=a+b&q=2", "/%EB%8D%B0?")
COOKIES = (
    None,
    "",
    "AIOHTTP_SESSION=s1",
    "AIOHTTP_SESSION=s1; sToken=t; lang=ko",
    " a=1 ;; __Host-aiohttp_session=x;b=2 ; __Secure-__Host-sToken=y ;",
    "=bare; novalue; LANG=en",
    ";",
)
SIGNED = (
    {},
    {"Date": "2026-11-30T06:00:00+00:00", "Authorization": "BackendAI signMethod=HMAC-SHA256, credential=AK:00"},
    {"x-backendai-version": "v9.20250722", "Date": "d", "Content-Type": "application/json"},
    {"X-BackendAI-SSO": "token"},
    {"HOST": "signed-host:1", "content-length": "7"},
)
TRACES = (None, {}, {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01", "tracestate": "a=b"})


def _incoming(rng: random.Random) -> CIMultiDictProxy[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    candidates = [
        ("Host", "webui.example.com"),
        ("host", "other.example.com"),
        ("Accept", "application/json"),
        ("accept", "*/*"),  # a second Accept: only the first goes up
        ("Accept-Language", "ko,en;q=0.8"),
        ("ACCEPT-ENCODING", "gzip, br"),
        ("Content-Type", "application/json; charset=utf-8"),
        ("Content-Length", "12"),
        ("Range", "bytes=0-99"),
        ("If-None-Match", '"abc"'),
        ("if-modified-since", "Mon, 30 Nov 2026 01:00:00 GMT"),
        ("Origin", "https://evil.example"),  # dropped, as all below
        ("Referer", "https://webui.example.com/"),
        ("Authorization", "Bearer browser"),
        ("traceparent", "00-" + "3" * 32 + "-" + "4" * 16 + "-01"),
        ("X-BackendAI-SessionID", "s1"),
        ("X-Forwarded-For", "10.0.0.1"),
        ("Connection", "keep-alive"),
    ]
    for name, value in candidates:
        if rng.random() < 0.5:
            headers.add(name, value)
    cookie = rng.choice(COOKIES)
    if cookie is not None:
        headers.add("Cookie", cookie)
    return CIMultiDictProxy(headers)


def _cases(count: int):
    rng = random.Random(20261130)
    manager = cookie_rules("AIOHTTP_SESSION", "sToken", "/func", manager=True)
    other = cookie_rules("AIOHTTP_SESSION", "sToken", "/webapi/x", manager=False)
    for index in range(count):
        common = dict(
            api_version=rng.choice(("v8.20240915", "v9.20250722")),
            domain=rng.choice(("default", "lab")),
            host=rng.choice(("127.0.0.1:8081", "api.example.com")),
            client_ip=rng.choice(("127.0.0.1", "2001:db8::1")),
            scheme=rng.choice(("http", "https")),
            withheld_cookies=rng.choice((manager, other)).withheld,
            request_id=rng.choice(("", "0123456789abcdef")),
        )
        decoded = rng.choice((None, None, b"", b'{"a": 1}'))
        yield (
            METHODS[index % len(METHODS)],
            rng.choice(TARGETS),
            _incoming(rng),
            common,
            rng.choice(SIGNED),
            rng.choice(TRACES),
            decoded,
        )


def test_the_one_pass_writes_the_bytes_the_multidict_way_wrote():
    cases = list(_cases(3000))
    kinds = set()
    for method, target, incoming, common, signed, trace, decoded in cases:
        old = _old_wire(method, target, incoming, common, signed, trace, decoded)
        assert _new_wire(method, target, incoming, common, signed, trace, decoded) == old
        kinds.add((method, decoded is None, bool(signed), bool(trace), "Cookie" in incoming))
    assert len(kinds) > 100  # of the 7 x 2 x 2 x 2 x 2 combinations of method and flags


def test_upstream_headers_keeps_its_pairs():
    """The aiohttp client's and the WebSocket handshake's headers: the same pairs in the same order."""
    for _method, _target, incoming, common, signed, trace, _decoded in itertools.islice(_cases(500), 500):
        old = _old_upstream_headers(incoming, **common, signed=signed, trace=trace)
        new = upstream_headers(incoming, **common, signed=signed, trace=trace)
        assert list(new.items()) == list(old.items())


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\0b"])
def test_a_line_break_in_any_field_is_refused(value: str):
    fields = upstream_fields(
        CIMultiDictProxy(CIMultiDict(Accept="*/*")),
        api_version="v9",
        domain="default",
        host="m:1",
        client_ip="127.0.0.1",
        scheme="http",
        withheld_cookies=frozenset(),
    )
    merge_fields(fields, {"Authorization": value})
    with pytest.raises(ValueError):
        fields_wire("GET", "/", fields)


def test_fields_merge_as_a_multidict_updates():
    fields = {"x-backendai-version": ("X-BackendAI-Version", "v1"), "host": ("Host", "h")}
    merge_fields(fields, {"x-BACKENDAI-version": "v2", "Date": "d"})
    assert list(fields.values()) == [("x-BACKENDAI-version", "v2"), ("Host", "h"), ("Date", "d")]
    reference = CIMultiDict([("X-BackendAI-Version", "v1"), ("Host", "h")])
    reference.update({"x-BACKENDAI-version": "v2", "Date": "d"})
    assert list(reference.items()) == list(fields.values())


def test_the_browsers_headers_are_not_touched():
    """The fields are a fresh dict: writing them (Host taken out) leaves the browser's headers as they were."""
    incoming = CIMultiDictProxy(CIMultiDict(Host="w", Accept="*/*"))
    first = upstream_fields(
        incoming,
        api_version="v9",
        domain="d",
        host="m:1",
        client_ip="ip",
        scheme="http",
        withheld_cookies=frozenset(),
    )
    fields_wire("GET", "/", first)
    assert "host" not in first and incoming["Host"] == "w"
