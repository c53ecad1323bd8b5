"""The recording upstream's own behaviour: a client that resets its connection is not reported."""

from __future__ import annotations

import socket
import struct

from tests.support.polling import eventually_sync
from tests.support.upstreams import RecordingServer


def test_a_client_that_resets_its_connection_prints_nothing(capfd):
    """The front door may drop a kept-alive upstream connection with a reset; socketserver printed a
    ConnectionResetError traceback into the CI log (ci9a) for it."""
    with RecordingServer() as server:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(1024).startswith(b"HTTP/1.1 200")  # answered: the server waits for the next request
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        client.close()
        with socket.create_connection(("127.0.0.1", server.port)) as after:  # handled after the reset
            after.sendall(b"GET /y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert after.recv(1024).startswith(b"HTTP/1.1 200")
        eventually_sync(lambda: server.paths == ["/x", "/y"], 5, interval=0.02)
    assert "Traceback" not in capfd.readouterr().err
