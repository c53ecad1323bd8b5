"""Request targets through the real stack, written byte for byte on raw sockets.

- Hostile targets (absolute-form naming another host, percent-encoded route prefixes, authorities
  smuggled into the path) never make the front door talk to a host the browser chose: a hostile
  server on loopback receives nothing, and the answer is 400/404 or the deployment's own.
- Every target the front door signs is the one the Manager receives: the development Manager
  verifies the HMAC signature over the raw request target that arrives (``request.raw_path``), as the
  real Manager does, for plain requests and WebSocket handshakes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os

import pytest
from yarl import URL

from tests.support.stack import ADMIN_USER
from tests.support.upstreams import RecordingServer, deploy

pytestmark = pytest.mark.slow

# "/webapi/ssrf" is 12 characters and "http://AAAAA" too: the old code cut the target there, so what it
# glued to the upstream address began with "@127.0.0.1:<hostile port>".
NAME = "ssrf"


@pytest.fixture(scope="module")
def servers(stack):
    with RecordingServer() as benign, RecordingServer() as hostile:
        deploy(stack.base_url, ADMIN_USER, NAME, benign)
        yield benign, hostile


@pytest.fixture
async def cookie(stack, admin) -> str:
    """``Cookie`` header of a logged-in admin, for requests written by hand."""
    name = stack.config.session.cookie_name
    return f"{name}={admin.cookie_jar.filter_cookies(URL(stack.base_url))[name].value}"


async def raw_request(port: int, target: bytes, host: bytes, cookie: str, extra: bytes = b"") -> tuple[int, bytes]:
    """One request written as given; the status and the body (read until the server closes)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"GET "
            + target
            + b" HTTP/1.1\r\nHost: "
            + host
            + b"\r\nCookie: "
            + cookie.encode()
            + b"\r\n"
            + (extra or b"Connection: close\r\n")
            + b"\r\n"
        )
        if extra:  # an upgrade: the head is all we wait for
            answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        else:
            answer = await asyncio.wait_for(reader.read(-1), 10)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# target, Host header ("F": the front door's own), expected status, the path the deployment then receives
HOSTILE_TARGETS = [
    ("http://AAAAA@127.0.0.1:{hostile}/webapi/ssrf/x", "F", 400, None),
    ("http://AAAAA@127.0.0.1:{hostile}/webapi/ssrf/x", "127.0.0.1:{hostile}", 400, None),
    ("http://127.0.0.1:{hostile}/webapi/ssrf/x", "F", 400, None),
    ("http://127.0.0.1:{hostile}/webapi/ssrf/x", "127.0.0.1:{hostile}", 200, "/x"),  # Host says so: ours
    ("http://@127.0.0.1:{hostile}/func/auth", "F", 400, None),
    ("zz://@127.0.0.1:{hostile}/func/auth", "F", 400, None),
    ("https://127.0.0.1:{hostile}/func/auth", "F", 400, None),
    ("http://{front}/webapi/ssrf/x?q=1", "F", 200, "/x?q=1"),  # absolute-form naming us: served as ours
    ("/webapi/%73srf/x", "F", 200, "/x"),
    ("/webapi/%73%73%72%66/@127.0.0.1:{hostile}/x", "F", 200, "/@127.0.0.1:{hostile}/x"),
    ("/webapi/ssrf//127.0.0.1:{hostile}/x", "F", 200, "//127.0.0.1:{hostile}/x"),
    (
        "/webapi/ssrf/@127.0.0.1:{hostile}/x?a=@127.0.0.1:{hostile}",
        "F",
        200,
        "/@127.0.0.1:{hostile}/x?a=@127.0.0.1:{hostile}",
    ),
    ("/webapi/ssrf/a%2Fb/c?x=%2F", "F", 200, "/a%2Fb/c?x=%2F"),
    ("/webapi/ssrf%2Fx/y", "F", 404, None),
    ("/webapi/ssrf/x#@127.0.0.1:{hostile}", "F", 400, None),
    ("/webapi/ssrf/%2e%2e/%2e%2e/x", "F", 400, None),
    ("/%66unc/auth?echo=encoded", "F", 200, None),
    ("/%66%75%6e%63/auth?echo=encoded", "F", 200, None),
    ("/func/%2e%2e/x", "F", 400, None),
]


@pytest.mark.parametrize("target, host, status, received", HOSTILE_TARGETS)
async def test_hostile_targets_never_reach_another_host(stack, servers, cookie, target, host, status, received):
    benign, hostile = servers
    front = f"127.0.0.1:{stack.ports.frontdoor}"
    fill = {"hostile": hostile.port, "front": front}
    seen_before, hostile_before = len(benign.requests), hostile.connections
    answer, body = await raw_request(
        stack.ports.frontdoor,
        target.format(**fill).encode(),
        (front if host == "F" else host.format(**fill)).encode(),
        cookie,
    )
    assert hostile.connections == hostile_before, hostile.requests
    assert answer == status
    # The front door's health probes (GET /, at a random phase per worker) may land meanwhile.
    proxied = [path for path in benign.paths[seen_before:] if path != "/"]
    if received is not None:
        assert proxied == [received.format(**fill)]
    else:
        assert proxied == []
    if status >= 400:
        assert json.loads(body)["type"].startswith("https://api.backend.ai/probs/")  # our problem+json


# what the browser asks below /func, what the Manager must receive (None: refused before signing)
SIGNED_TARGETS = [
    ("/folders/_/hosts?", "/folders/_/hosts"),  # the official Web UI's own call
    ("/dev/echo-headers?", "/dev/echo-headers"),
    ("/dev/echo-headers??", "/dev/echo-headers??"),
    ("/dev/echo-headers?a=1&a=2", "/dev/echo-headers?a=1&a=2"),
    ("/dev/echo-headers?q=a+b", "/dev/echo-headers?q=a+b"),
    ("/dev/echo-headers/a+b", "/dev/echo-headers/a+b"),
    ("/dev/echo-headers/a%2Fb/c?path=%2Fhome%2Fwork", "/dev/echo-headers/a%2Fb/c?path=%2Fhome%2Fwork"),
    ("/dev/echo-headers/a%20b?q=a%20b", "/dev/echo-headers/a%20b?q=a%20b"),
    (
        "/dev/echo-headers/%EB%8D%B0%EC%9D%B4%ED%84%B0?q=%C3%BC",
        "/dev/echo-headers/%EB%8D%B0%EC%9D%B4%ED%84%B0?q=%C3%BC",
    ),
    ("/dev/echo-headers?a=1&", "/dev/echo-headers?a=1&"),
    ("/dev/echo-headers?&", "/dev/echo-headers?&"),
    ("/dev/echo-headers?a=&b", "/dev/echo-headers?a=&b"),
    ("/dev/echo-headers/a;b?x=1;y=2", "/dev/echo-headers/a;b?x=1;y=2"),
    ("/dev/echo-headers/%E2%9C%93?%E2%9C%93=%E2%9C%93&", "/dev/echo-headers/%E2%9C%93?%E2%9C%93=%E2%9C%93&"),
    ("/dev/echo-headers/데이터?q=ü", None),  # raw UTF-8: aiohttp's parser refuses it (400) before anything
]


@pytest.mark.parametrize("browser_target, manager_target", SIGNED_TARGETS)
async def test_the_manager_accepts_the_signature_of_every_target(stack, cookie, browser_target, manager_target):
    front = f"127.0.0.1:{stack.ports.frontdoor}".encode()
    status, body = await raw_request(stack.ports.frontdoor, ("/func" + browser_target).encode(), front, cookie)
    if manager_target is None:
        assert status == 400
        return
    assert status == 200, body[:300]  # 401 "Signature mismatch" when what was signed is not what arrived
    if browser_target.startswith("/dev/"):
        assert json.loads(body)["raw_path"] == manager_target


@pytest.mark.parametrize(
    "browser_target",
    [
        "/stream/echo?",
        "/stream/echo?a=1&a=2&",
        "/stream/echo?q=a+b;c&x=%2F&y=%20&z=%C3%BC&e=&f",
        "/stream/session/a%20b/pty?",
        "/stream/session/%EB%8D%B0/pty?x=&y",
    ],
)
async def test_websocket_handshakes_are_signed_as_sent(stack, cookie, browser_target):
    key = base64.b64encode(os.urandom(16))
    upgrade = (
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + b"\r\n"
    )
    front = f"127.0.0.1:{stack.ports.frontdoor}".encode()
    status, _ = await raw_request(stack.ports.frontdoor, ("/func" + browser_target).encode(), front, cookie, upgrade)
    assert status == 101  # 502 when the Manager refused the handshake's signature
