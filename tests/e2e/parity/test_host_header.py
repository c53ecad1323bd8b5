"""The Host header against a running front door: only published hosts and loopback are answered, and
no refusal repeats the Host it refused (config.toml's apiEndpoint, the HTTPS redirect's Location)."""

from __future__ import annotations

import json
import tomllib

import pytest

from tests.e2e.parity.conftest import raw_exchange

PARSER = "refused by aiohttp's HTTP parser, before any handler"


def request(host_lines: bytes, path: str = "/config.toml", accept: bytes = b"*/*") -> bytes:
    return f"GET {path} HTTP/1.1\r\n".encode() + host_lines + b"Accept: " + accept + b"\r\nConnection: close\r\n\r\n"


# (Host header lines as sent ({port}: the front door's), status, apiEndpoint of an accepted request)
CASES = [
    (b"Host: 127.0.0.1:{port}\r\n", 200, "https://127.0.0.1:{port}"),
    (b"Host: localhost:{port}\r\n", 200, "https://localhost:{port}"),
    (b"Host: [::1]:{port}\r\n", 200, "https://[::1]:{port}"),
    (b"Host: webui.example.com\r\n", 200, "https://webui.example.com"),
    (b"Host: WebUI.Example.COM:443\r\n", 200, "https://webui.example.com:443"),
    (b"Host: api.example.com:9443\r\n", 200, "https://api.example.com:9443"),
    (b"Host: api.example.com\r\n", 421, None),  # published with one port only
    (b"Host: evil.com\r\n", 421, None),
    (b"Host: evil.com:{port}\r\n", 421, None),
    (b"Host: webui.example.com.evil.com\r\n", 421, None),
    (b"Host: webui.example.com.\r\n", 421, None),  # trailing dot: another name
    (b"Host: [2001:db8::1]:{port}\r\n", 421, None),
    (b"Host: 10.1.2.3\r\n", 421, None),
    (b"Host: 127.0.0.1@evil.com\r\n", 400, None),
    (b"Host: webui.example.com@evil.com\r\n", 400, None),
    (b"Host: evil.com%0d%0aX-Injected: 1\r\n", 400, None),
    (b"Host: evil.com\r\nX-Injected: 1\r\n", 421, None),  # a CRLF only starts another header
    (b"Host: webui.example.com\rX-Injected: 1\r\n", 400, PARSER),  # a bare CR
    (b"Host: evil.com/\r\n", 400, None),
    (b"Host: evil.com:80:80\r\n", 400, None),
    (b"Host: evil.com:99999\r\n", 400, None),
    (b"Host: [::1\r\n", 400, None),
    (b"Host: \r\n", 400, None),
    (b"", 400, PARSER),  # no Host at all (HTTP/1.1 requires one)
    (b"Host: webui.example.com\r\nHost: evil.com\r\n", 400, PARSER),
]


@pytest.mark.parametrize("host_lines, status, endpoint", CASES)
async def test_hostile_hosts_are_refused_and_never_reflected(parity_stack, host_lines, status, endpoint):
    port = str(parity_stack.ports.frontdoor)
    host_lines = host_lines.replace(b"{port}", port.encode())
    answer_status, headers, body = await raw_exchange(parity_stack, request(host_lines))
    assert answer_status == status, body[:300]
    assert b"evil" not in body and "evil" not in json.dumps(headers)
    if endpoint == PARSER:
        return
    assert "host" in headers.get("vary", "").lower()
    if status == 200:
        doc = tomllib.loads(body.decode())
        assert doc["general"]["apiEndpoint"] == endpoint.replace("{port}", port)
    else:
        assert headers["content-type"].startswith("application/problem+json")
        assert json.loads(body)["type"].endswith("misdirected-request" if status == 421 else "generic-bad-request")


@pytest.mark.parametrize(
    "path, accept, content_type, marker",
    [
        ("/server/login-check", b"application/json", "application/problem+json", b"misdirected-request"),
        ("/func/auth", b"text/html", "application/problem+json", b"misdirected-request"),  # API paths: always JSON
        ("/config.toml", b"text/html,application/xhtml+xml,*/*;q=0.8", "text/html", b'id="error-code">421<'),
        ("/ui/login", b"text/html", "text/html", b'id="error-code">421<'),
        ("/summary", b"application/json", "application/problem+json", b"misdirected-request"),
    ],
)
async def test_a_refusal_is_a_page_for_browsers_and_problem_json_on_the_api(
    parity_stack, path, accept, content_type, marker
):
    status, headers, body = await raw_exchange(parity_stack, request(b"Host: evil.com\r\n", path, accept))
    assert status == 421
    assert headers["content-type"].startswith(content_type)
    assert marker in body and b"evil" not in body


@pytest.mark.parametrize(
    "host, status, location",
    [
        (b"webui.example.com", 308, "https://webui.example.com:{port}/ui/?a=1"),
        (b"127.0.0.1:80", 308, "https://127.0.0.1:{port}/ui/?a=1"),
        (b"evil.com", 421, None),
        (b"evil.com:8090", 421, None),
        (b"127.0.0.1@evil.com", 400, None),
        (b"webui.example.com.", 421, None),
        (b"", 400, None),
    ],
)
async def test_the_https_redirect_goes_only_to_our_hosts(parity_stack, host, status, location):
    raw = b"GET /ui/?a=1 HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
    answer_status, headers, body = await raw_exchange(parity_stack, raw, tls=False, port=parity_stack.redirect_port)
    assert answer_status == status
    assert headers.get("location") == (
        location.replace("{port}", str(parity_stack.ports.frontdoor)) if location else None
    )
    assert "host" in headers.get("vary", "").lower()
    assert b"evil" not in body
