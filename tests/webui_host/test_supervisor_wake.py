"""The launcher's waker: it connects to supervisord's control socket once that listens, and only then."""

from __future__ import annotations

import socket
import tempfile
import threading
from pathlib import Path

import pytest

from webui_host.supervisor_wake import spawn_waker, wake_when_listening


@pytest.fixture
def sock_path():
    # A short directory: AF_UNIX paths are limited to ~107 bytes and pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="wake-") as directory:
        yield Path(directory) / "supervisor.sock"


def listen(path: Path) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    server.settimeout(10.0)
    return server


def test_connects_once_the_socket_listens(sock_path):
    outcome = []
    waker = threading.Thread(target=lambda: outcome.append(wake_when_listening(sock_path, timeout=10.0)))
    waker.start()
    with listen(sock_path) as server:
        connection, _ = server.accept()
        connection.close()
    waker.join(10.0)
    assert outcome == [True]


def test_a_leftover_socket_file_is_no_listener(sock_path):
    # What a killed supervisord leaves: the file, with nobody accepting on it.
    leftover = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    leftover.bind(str(sock_path))
    leftover.close()
    assert sock_path.exists()
    assert wake_when_listening(sock_path, timeout=0.2) is False


def test_spawn_waker_returns_at_once_and_wakes_from_a_detached_process(sock_path):
    spawn_waker(sock_path)  # returns before anything listens: the caller execs supervisord next
    with listen(sock_path) as server:
        connection, _ = server.accept()
        connection.close()
