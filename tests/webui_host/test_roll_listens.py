"""roll-frontdoors' readiness check: a TCP listener of the process, read from /proc (no psutil in the image)."""

import os
import socket

from webui_host.roll import listens_on


def test_a_listening_socket_of_the_process_is_found_on_its_port_only():
    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
            assert not listens_on(os.getpid(), port)  # bound, not yet listening
            sock.listen()
            assert listens_on(os.getpid(), port)
            assert not listens_on(os.getpid(), port + 1 if port < 65535 else port - 1)


def test_a_process_that_is_gone_listens_on_nothing():
    assert not listens_on(2**22 + 1, 8090)
