"""``python -m tests.support.failing_start MODULE:ATTR ROLE [ARG ...]``: a role's real entry
(``ROLE.__main__.main``) with one function or method of ours, ``ATTR`` of ``MODULE``, replaced by one
that raises ``RuntimeError("injected failure")``: a start that fails at that point (``-``: nothing
replaced, for a start that fails of itself).  ``MODULE:ATTR@later`` replaces it by a coroutine
function that raises ``LATER`` seconds after it started: a background loop dying once the process
runs.  ``start_failing`` runs it and gives what it logged.

Once ``main`` has returned, what the process left is collected (unfrozen first: the skeleton freezes
what ``build`` made), as any later collection of a longer-lived process would: a ZeroMQ context left
with open sockets hangs right there (service_runtime.start_cleanup), where a clean start-up exits.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.paths import REPO_ROOT
from tests.support.ports import free_ports
from tests.support.servers import start_etcd, start_redis

INJECTED = "injected failure"
NOTHING = "-"
LATER_SUFFIX = "@later"
LATER = 0.3
# A failed start (imports, settings from etcd, build) ends within this; it used to hang for ever.
EXIT_LIMIT = 15.0


def _raise(*args, **kwargs):
    raise RuntimeError(INJECTED)


async def _raise_later(*args, **kwargs):
    await asyncio.sleep(LATER)
    raise RuntimeError(INJECTED)


def inject(target: str) -> None:
    if target == NOTHING:
        return
    replacement = _raise
    if target.endswith(LATER_SUFFIX):
        target, replacement = target.removesuffix(LATER_SUFFIX), _raise_later
    module_name, _, qualified = target.partition(":")
    owner = importlib.import_module(module_name)
    *path, name = qualified.split(".")
    for part in path:
        owner = getattr(owner, part)
    setattr(owner, name, replacement)


def run(target: str, role: str, argv: list[str]) -> int:
    entry = importlib.import_module(f"{role}.__main__")  # (its gc.disable(), as when run with -m)
    inject(target)
    try:
        code = entry.main(argv)
    except Exception:  # (the skeleton before it logged failed starts)
        traceback.print_exc()
        code = 1
    gc.unfreeze()
    gc.collect()
    return code


def write_config(directory: Path, etcd_port: int, redis_addr: str, front_port: int, ops_port: int) -> Path:
    """A host's file for one role started by hand (no embedded services): etcd and Redis given."""
    path = directory / "webui-host.toml"
    path.write_text(
        f"""
[service]
port = {front_port}
[api]
endpoint = "http://127.0.0.1:9"
[etcd]
addr = "127.0.0.1:{etcd_port}"
[session.redis]
addr = "{redis_addr}"
[runtime]
state_dir = "{directory / "state"}"
[ops]
port = {ops_port}
"""
    )
    return path


@contextmanager
def host_config() -> Iterator[Path]:
    """A real etcd and redis-server, and a file naming them, in a short directory (ipc paths are short)."""
    directory = Path(tempfile.mkdtemp(prefix="sf-", dir="/tmp"))
    etcd = start_etcd(directory)
    redis = start_redis(directory, directory / "state" / "secrets")
    try:
        yield write_config(directory, etcd.port, redis.addr, *free_ports(2))
    finally:
        redis.stop()
        etcd.stop()
        shutil.rmtree(directory, ignore_errors=True)


def start_failing(target: str, role: str, config: Path, *args: str) -> tuple[int, list[dict]]:
    """(exit status, JSON log lines) of the role started with ``target`` failing; TimeoutExpired (the
    child killed) when it does not end within ``EXIT_LIMIT``."""
    command = [sys.executable, "-m", "tests.support.failing_start", target, role, "-f", str(config), *args]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=EXIT_LIMIT)
    lines = []
    for text in (done.stdout + done.stderr).splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return done.returncode, lines


def startup_failures(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line.get("event") == "startup_failed"]


def background_failures(lines: list[dict]) -> list[dict]:
    return [line for line in lines if line.get("event") == "background_task_failed"]


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], sys.argv[2], sys.argv[3:]))
