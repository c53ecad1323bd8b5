"""Processes a dead ``webui-host run`` left behind in a state directory, found and stopped.

Every program of a generated supervisord.conf carries ``WEBUI_HOST_STATE_DIR`` in its environment,
so a new ``run`` can tell its predecessor's programs from anything else on the host, even ones
started before parent-death signals existed (``webui_host.parent_bound``), and stop them instead of
refusing to start because their ports are busy.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

STATE_DIR_ENV = "WEBUI_HOST_STATE_DIR"


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone, or not ours to read
        return b""


def find_leftovers(state_dir: Path) -> list[int]:
    """PIDs of live processes (not this one) started for ``state_dir``."""
    marker = f"{STATE_DIR_ENV}={state_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            if marker in _environ(int(entry.name)).split(b"\0"):
                found.append(int(entry.name))
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its new parent) holds no port and counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def reap(pids: list[int], grace: float = 30.0) -> list[int]:
    """SIGTERM (they drain as on any stop), then SIGKILL after ``grace``; returns the killed ones."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.1)
    killed = [pid for pid in pids if _alive(pid)]
    for pid in killed:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return killed
