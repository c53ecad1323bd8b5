"""Requests aiohttp's parser refuses leave no request bytes (session cookies) in a real front door's logs."""

from __future__ import annotations

import secrets
import time

from tests.e2e.edge.conftest import MAX_HEADER_SIZE, raw_socket
from tests.support.polling import eventually


def _front_door_logs(stack) -> str:
    logs = stack.config.runtime.state_dir / "logs"
    return "\n".join(path.read_text(errors="replace") for path in sorted(logs.glob("*.log")))


def _send_raw(stack, raw: bytes) -> bytes:
    with raw_socket(stack) as sock:
        sock.sendall(raw)
        received = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            received += chunk
    return received


async def test_requests_the_parser_refuses_leave_no_cookie_in_the_logs(edge_stack):
    cookies = [secrets.token_hex(16) for _ in range(3)]
    requests = [
        b"GET /ui/ HTTP/1.1\nHost: x\nCookie: AIOHTTP_SESSION=%s\n\n" % cookies[0].encode(),  # bare LF
        b"GET /ui/ HTTP/1.1\r\nHost: x\r\nCookie: AIOHTTP_SESSION=%s%s\r\n\r\n"
        % (cookies[1].encode(), b"A" * (MAX_HEADER_SIZE + 100)),  # over-long Cookie line
        b"GET /ui/ HTTP/1.1\r\nHost: x\r\nCookie: AIOHTTP_SESSION=%s\r\nBad\x01Name: y\r\n\r\n" % cookies[2].encode(),
    ]
    before = _front_door_logs(edge_stack).count('"logger":"aiohttp.server"')
    for raw in requests:
        assert _send_raw(edge_stack, raw).startswith(b"HTTP/1.")
    await eventually(
        lambda: _front_door_logs(edge_stack).count('"logger":"aiohttp.server"') >= before + len(requests),
        timeout=10,
        what="the parser's refusals logged",
    )
    logs = _front_door_logs(edge_stack)
    leaked = [cookie for cookie in cookies if cookie in logs]
    assert not leaked, f"{len(leaked)} cookie value(s) in the logs"
    assert '"reason":"Bad status line"' in logs  # a short reason stays
