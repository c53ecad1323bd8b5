"""Connections that send half a request, or nothing, are closed within their bounds: raw sockets
against a real front door."""

from __future__ import annotations

import socket
import time

import pytest

from tests.e2e.edge.conftest import HEADER_READ_TIMEOUT, KEEPALIVE_TIMEOUT, raw_socket


def _seconds_until_closed(sock: socket.socket, limit: float, trickle: bytes = b"") -> float:
    """Read (and optionally trickle bytes) until the server closes; how long that took."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        if trickle:
            try:
                sock.sendall(trickle)
            except OSError:
                return time.monotonic() - started
        try:
            if sock.recv(65536) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started
    return float("inf")


@pytest.mark.parametrize(
    "first_bytes, trickle",
    [
        pytest.param(b"", b"", id="silent"),
        pytest.param(b"GET /ui/login HTTP/1.1\r\nHost: x\r\n", b"", id="half-a-head"),
        pytest.param(b"GET /ui/login HTTP/1.1\r\n", b"X-Slow: a\r\n", id="trickled-head"),
        pytest.param(b"GE", b"", id="half-a-request-line"),
    ],
)
def test_a_connection_without_a_request_head_is_closed_in_time(edge_stack, first_bytes, trickle):
    with raw_socket(edge_stack) as sock:
        sock.sendall(first_bytes)
        took = _seconds_until_closed(sock, HEADER_READ_TIMEOUT + 4, trickle)
    assert took <= HEADER_READ_TIMEOUT + 1.5, f"still open after {took:.1f} s"


@pytest.mark.parametrize("then_send", [b"", b"GET /ui/login HTTP/1.1\r\nHo"], ids=["idle", "half-a-second-request"])
def test_a_kept_alive_connection_is_closed_when_idle(edge_stack, then_send):
    with raw_socket(edge_stack) as sock:
        sock.sendall(b"GET /config.toml HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                pass
        assert answer.startswith(b"HTTP/1.1 "), answer[:100]
        sock.sendall(then_send)
        took = _seconds_until_closed(sock, KEEPALIVE_TIMEOUT + 4)
    assert took <= KEEPALIVE_TIMEOUT + 1.5, f"still open after {took:.1f} s"
