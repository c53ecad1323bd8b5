"""The floor servers as servers under test: ``bench/floor_proxy.py`` alone (``floor-proxy``) or with
``bench/floor_signer.py`` behind it (``floor-signed``), each one front process on the fast upstream;
and ``floor-signed-2x2``: two floor proxies sharing the port and two floor signers, webui-host's
default shape.  Their CPU per request is what our front doors (and signers) could approach at best."""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench import processes
from bench.targets import ROOT, stop_popen, wait_first_proxied_answer
from tests.support.polling import eventually_sync
from tests.support.ports import free_port

PROXY_NAME = "floor proxy (1 process)"
SIGNED_NAME = "floor signed (1 front + 1 signer)"


def floor_name(proxies: int, signers: int) -> str:
    """The server's name in the tables: the historical ones for one process of each kind."""
    if (proxies, signers) == (1, 0):
        return PROXY_NAME
    if (proxies, signers) == (1, 1):
        return SIGNED_NAME
    return f"floor signed ({proxies} fronts + {signers} signers)"


class FloorServer:
    def __init__(self, directory: Path, upstream_url: str, proxies: int = 1, signers: int = 0):
        self.name = floor_name(proxies, signers)
        self.settings = "aiohttp + uvloop, one keep-alive client session, no logs/metrics/checks"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._directory = directory
        self._upstream_url = upstream_url
        self._proxy_count = proxies
        self._signer_endpoints = [f"ipc://{directory / f'floor-signer-{n}.sock'}" for n in range(signers)]
        self._log = open(directory / "floor.log", "wb")
        self._signers: list[subprocess.Popen] = []
        self._proxies: list[subprocess.Popen] = []

    def _launch(self, module: str, *args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches the harness only, which stops us
        )

    def start(self) -> float:
        started = time.monotonic()
        command = ["--port", str(self.port), "--upstream", self._upstream_url]
        for endpoint in self._signer_endpoints:
            self._signers.append(self._launch("bench.floor_signer", "--endpoint", endpoint))
            command += ["--signer", endpoint]
        if self._proxy_count > 1:
            command.append("--reuse-port")
        self._proxies = [self._launch("bench.floor_proxy", *command) for _ in range(self._proxy_count)]
        answered = wait_first_proxied_answer(self.base_url, started, self._proxies[0])
        for proxy in self._proxies[1:]:  # the port is shared: measure only once each of them takes connections
            listens = functools.partial(self._listens, proxy)
            eventually_sync(listens, timeout=30, interval=0.02, what="a floor proxy listening")
        return answered

    def _listens(self, proxy: subprocess.Popen) -> bool:
        if proxy.poll() is not None:
            raise RuntimeError(f"{proxy.args} exited with {proxy.returncode}")
        held = psutil.Process(proxy.pid).net_connections(kind="tcp")
        return any(c.status == psutil.CONN_LISTEN and c.laddr.port == self.port for c in held)

    def processes(self) -> list[psutil.Process]:
        return [p for launched in self._proxies + self._signers for p in processes.tree(launched.pid)]

    def stop(self) -> None:
        try:
            for proxy in self._proxies:
                stop_popen(proxy, [], timeout=5)
        finally:
            for signer in self._signers:
                stop_popen(signer, [], timeout=5)
            self._log.close()
