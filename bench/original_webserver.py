"""The original Backend.AI webserver 23.9.10 as a server under test.

Installed once (idempotently) into a git-ignored virtualenv with ``pip install
backend.ai-webserver==23.9.10``, run with its defaults (uvloop, ``min(4, CPUs)`` workers, console
logging at INFO) against the fast upstream, with a ``redis-server`` of its own on a free port.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psutil

from bench import processes
from bench.targets import ROOT, stop_popen, wait_first_proxied_answer
from tests.support.ports import free_ports

VERSION = "23.9.10"
# Its own lockfile's (python.lock at release 23.09.10): newer yarl releases break its request signing
# (``URL._val`` is no longer a SplitResult), and pip would pick the newest.
PINNED = ("yarl==1.9.4", "multidict==6.0.5")
DEFAULT_VENV = ROOT / ".bench" / "original-venv"


def installed_versions(venv: Path) -> list[str] | None:
    """``name==version`` of the webserver and the pinned packages in ``venv``, or None."""
    python = venv / "bin" / "python"
    if not python.exists():
        return None
    names = ["backend.ai-webserver", *(pin.split("==")[0] for pin in PINNED)]
    script = f"from importlib.metadata import version\nfor n in {names!r}: print(f'{{n}}=={{version(n)}}')"
    done = subprocess.run([str(python), "-c", script], capture_output=True, text=True)
    return done.stdout.split() if done.returncode == 0 else None


def ensure_installed(venv: Path = DEFAULT_VENV) -> Path:
    """The virtualenv's python, installing the original webserver first if it is not there yet."""
    wanted = [f"backend.ai-webserver=={VERSION}", *PINNED]
    if installed_versions(venv) != wanted:
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["python3.11", "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *wanted], check=True)
    return venv / "bin" / "python"


def webserver_conf(port: int, redis_port: int, upstream_url: str, ipc_dir: Path) -> str:
    """Its sample configuration's values (configs/webserver/sample.conf of 23.09), on loopback."""
    return f"""
[service]
ip = "127.0.0.1"
port = {port}
wsproxy.url = ""
mode = "webui"

[resources]
[environments]
[plugin]

[ui]
brand = "Backend.AI bench"

[api]
domain = "default"
endpoint = "{upstream_url}"
text = "Backend.AI bench"
ssl_verify = false

[session]
redis.addr = "127.0.0.1:{redis_port}"
max_age = 604800
flush_on_startup = false
login_block_time = 1200
login_allowed_fail_count = 10

[license]

[webserver]
event-loop = "uvloop"
ipc-base-path = "{ipc_dir}"

[logging]
level = "INFO"
drivers = ["console"]

[logging.console]
colored = false
format = "verbose"

[logging.pkg-ns]
"" = "WARNING"
"aiotools" = "INFO"
"aiohttp" = "INFO"
"ai.backend" = "INFO"

[debug]
enabled = false
"""


class OriginalWebserver:
    name = "original webserver"

    def __init__(self, directory: Path, upstream_url: str, venv: Path = DEFAULT_VENV):
        self.directory = directory
        self.upstream_url = upstream_url
        self.venv = venv
        self.port, self.redis_port = free_ports(2)
        self.base_url = f"http://127.0.0.1:{self.port}"
        workers = min(4, os.cpu_count() or 1)  # its own choice (aiotools.start_server in server.py)
        self.settings = f"{VERSION}, {workers} workers + master, uvloop, its own redis-server"
        self._redis: subprocess.Popen | None = None
        self._server: subprocess.Popen | None = None
        self._seen: list[psutil.Process] = []
        self._log = open(directory / "original-webserver.log", "wb")

    def start(self) -> float:
        python = ensure_installed(self.venv)
        self._start_redis()
        conf = self.directory / "webserver.conf"
        ipc_dir = self.directory / "ipc"
        ipc_dir.mkdir(exist_ok=True)
        conf.write_text(webserver_conf(self.port, self.redis_port, self.upstream_url, ipc_dir))
        started = time.monotonic()
        self._server = subprocess.Popen(
            [str(python), "-m", "ai.backend.web.server", "-f", str(conf)],
            cwd=self.directory,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        seconds = wait_first_proxied_answer(self.base_url, started, self._server)
        self._seen = self.processes()
        return seconds

    def _start_redis(self) -> None:
        self._redis = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.redis_port), "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(self.redis_port), "ping"], capture_output=True).returncode:
            if time.monotonic() > deadline:
                raise TimeoutError("the original webserver's redis-server did not start")
            time.sleep(0.05)

    def processes(self) -> list[psutil.Process]:
        found = processes.tree(self._server.pid) if self._server else []
        return found + (processes.tree(self._redis.pid) if self._redis else [])

    def stop(self) -> None:
        try:
            stop_popen(self._server, self._seen)
        finally:
            stop_popen(self._redis, [], timeout=5)
            self._log.close()
