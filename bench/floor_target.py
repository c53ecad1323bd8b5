"""The floor servers as servers under test: ``bench/floor_proxy.py`` alone (``floor-proxy``) or with
``bench/floor_signer.py`` behind it (``floor-signed``), each one front process on the fast upstream.
Their CPU per request is what our front door (and front door + signer) could approach at best."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil

from bench import processes
from bench.targets import ROOT, stop_popen, wait_first_proxied_answer
from tests.support.ports import free_port

PROXY_NAME = "floor proxy (1 process)"
SIGNED_NAME = "floor signed (1 front + 1 signer)"


class FloorServer:
    def __init__(self, directory: Path, upstream_url: str, signed: bool):
        self.name = SIGNED_NAME if signed else PROXY_NAME
        self.settings = "aiohttp + uvloop, one keep-alive client session, no logs/metrics/checks"
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._directory = directory
        self._upstream_url = upstream_url
        self._signer_endpoint = f"ipc://{directory / 'floor-signer.sock'}" if signed else None
        self._log = open(directory / "floor.log", "wb")
        self._signer: subprocess.Popen | None = None
        self._proxy: subprocess.Popen | None = None

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
        if self._signer_endpoint is not None:
            self._signer = self._launch("bench.floor_signer", "--endpoint", self._signer_endpoint)
            command += ["--signer", self._signer_endpoint]
        self._proxy = self._launch("bench.floor_proxy", *command)
        return wait_first_proxied_answer(self.base_url, started, self._proxy)

    def processes(self) -> list[psutil.Process]:
        return [p for launched in (self._proxy, self._signer) if launched for p in processes.tree(launched.pid)]

    def stop(self) -> None:
        try:
            stop_popen(self._proxy, [], timeout=5)
        finally:
            stop_popen(self._signer, [], timeout=5)
            self._log.close()
