"""What the servers under test have in common: the fast upstream they proxy to, logging in, and
waiting for the first proxied answer after a start."""

from __future__ import annotations

import http.cookiejar
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

import psutil

from bench import processes
from tests.support.http_probe import signed_call_works
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
BENCH_USER = ("bench@example.com", "bench-password")  # the fast upstream accepts any
API_VERSION = "v7.20230615"
PROXIED_PATH = "/func/auth?echo=bench"  # -> GET /auth?echo=bench at the upstream
UPSTREAM_PATH = "/auth?echo=bench"


class Target(Protocol):
    """A server under test: started, logged in once, driven by wrk, stopped."""

    name: str
    base_url: str

    def start(self) -> float:
        """Start it; seconds from launching the first process to the first proxied 200."""

    def processes(self) -> list[psutil.Process]:
        """Every process of it that is alive now, its stores (Redis, etcd) included."""

    def stop(self) -> None:
        """Stop everything it started, whatever state it is in."""


def proxied_headers(cookie: str) -> dict[str, str]:
    return {"Cookie": cookie, "X-BackendAI-Version": API_VERSION}


def login_cookie(base_url: str, username: str = BENCH_USER[0], password: str = BENCH_USER[1]) -> str:
    """Log in once; the ``Cookie`` header value that carries the session (every cookie set)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(
        f"{base_url}/server/login", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with opener.open(request, timeout=10) as answer:
        if json.load(answer).get("authenticated") is not True:
            raise RuntimeError(f"login at {base_url} was refused")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


def wait_first_proxied_answer(
    base_url: str, started: float, launched: subprocess.Popen, timeout: float = 90.0, interval: float = 0.05
) -> float:
    """Seconds from ``started`` (a ``time.monotonic()``) until a login and a proxied GET both succeed."""
    deadline = started + timeout
    while time.monotonic() < deadline:
        if launched.poll() is not None:
            raise RuntimeError(f"{launched.args} exited with {launched.returncode}")
        try:
            if signed_call_works(base_url, *BENCH_USER):
                return time.monotonic() - started
        except (OSError, urllib.error.URLError, ValueError):
            pass
        time.sleep(interval)
    raise TimeoutError(f"no proxied answer from {base_url} within {timeout} s")


def wait_http_ok(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def stop_popen(launched: subprocess.Popen | None, family: list[psutil.Process], timeout: float = 20.0) -> None:
    """SIGTERM to ``launched``, then kill whatever of it and ``family`` (its tree, seen earlier) is left."""
    if launched is None:
        return
    others = [p for p in family + processes.tree(launched.pid) if p.pid != launched.pid]
    if launched.poll() is None:
        launched.terminate()
        try:
            launched.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            launched.kill()
            launched.wait()
    processes.wait_gone(others, 5.0)


class FastUpstream:
    """``bench/fast_upstream.py`` in its own process on a free loopback port."""

    def __init__(self, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "wb")
        self._process: subprocess.Popen | None = None

    def start(self) -> FastUpstream:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.fast_upstream", "--port", str(self.port)],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C on the terminal reaches the harness only, which stops us
        )
        wait_http_ok(f"{self.url}/_bench/count")
        return self

    def process(self) -> psutil.Process:
        assert self._process is not None
        return psutil.Process(self._process.pid)

    def answered(self) -> int:
        with urllib.request.urlopen(f"{self.url}/_bench/count", timeout=5) as answer:
            return int(answer.read())

    def wait_quiet(self, settle: float = 0.05, timeout: float = 5.0) -> int:
        """The count once it stops moving: requests still in flight from a previous run (wrk stops
        counting at its deadline, not the server) must not be charged to the next one."""
        deadline = time.monotonic() + timeout
        last = self.answered()
        while time.monotonic() < deadline:
            time.sleep(settle)
            now = self.answered()
            if now == last:
                return now
            last = now
        return last

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            stop_popen(self._process, [], timeout=5)
        self._log.close()
