"""Wake supervisord once its control socket listens, so it starts the programs at once.

supervisord spawns its programs only after the first turn of its main loop, and that turn begins
with a poll of its sockets for up to one second; nothing is readable on a fresh start, so every
``webui-host run`` waited a full second before any program was spawned.  A connection to the control
socket ends that poll: ``webui-host run`` leaves a small detached process behind (``spawn_waker``)
that connects once the socket accepts and exits.  It sends nothing; supervisord sees a client come
and go.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

WAKE_TIMEOUT = 15.0  # seconds; supervisord that is not listening by then has failed to start
WAKE_INTERVAL = 0.01


def wake_when_listening(sock_path: Path, timeout: float = WAKE_TIMEOUT, interval: float = WAKE_INTERVAL) -> bool:
    """Connect to the Unix socket once it accepts (a leftover file of a dead run refuses); True when
    a connection was made before ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(sock_path))
                return True
            except OSError:
                pass
        time.sleep(interval)
    return False


def spawn_waker(sock_path: Path) -> None:
    """Run ``wake_when_listening`` in a detached grandchild, then return (the caller execs supervisord).

    Detached (double fork, reaped here) so supervisord never sees an unknown child of its own.
    """
    child = os.fork()
    if child:
        os.waitpid(child, 0)
        return
    try:
        if os.fork() == 0:
            _detach_stdio()
            wake_when_listening(sock_path)
    finally:
        os._exit(0)


def _detach_stdio() -> None:
    """Hold no pipe of the caller's open (``webui-host run | tee`` ends when supervisord does)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
