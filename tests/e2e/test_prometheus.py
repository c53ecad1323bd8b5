"""A real Prometheus scrapes a running host's ops listener; every PromQL example of the seed and every
panel of the Grafana dashboard is evaluated through Prometheus's HTTP API and must return data."""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import socket as sock
import subprocess
from pathlib import Path

import aiohttp
import pytest
import zmq
import zmq.asyncio

from contract.host_layout import signer_endpoint
from tests.docs.grafana import dashboard_queries, seed_queries
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.stack import ADMIN_USER, NORMAL_USER, RunningStack

pytestmark = pytest.mark.slow

SERVICE_GROUP = "webui-test"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
MONITOR_USER = ("monitor@lablup.com", "7tuEwF1J")


class Prometheus:
    """prometheus on a free loopback port, scraping one target every second; stopped by its PID."""

    def __init__(self, directory: Path, target: str):
        assert os.access(PROMETHEUS, os.X_OK), "the Debian package 'prometheus' is missing: run scripts/setup --test"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = directory / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: webui-host\n    static_configs:\n"
            f"      - targets: ['{target}']\n        labels:\n          service_group: {SERVICE_GROUP}\n"
        )
        self._log = open(directory / "prometheus.log", "wb")
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def query(self, session: aiohttp.ClientSession, expr: str) -> list[dict]:
        async with session.get(f"{self.url}/api/v1/query", params={"query": expr}) as answer:
            doc = await answer.json()
        assert doc["status"] == "success", (expr, doc)
        return doc["data"]["result"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = RunningStack(tmp_path_factory.mktemp("prom"), workers=2).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, stack):
    server = Prometheus(tmp_path_factory.mktemp("prometheus"), f"127.0.0.1:{stack.ports.ops}")
    yield server
    server.stop()


async def traffic(stack, failing_user: tuple[str, str]) -> None:
    """Logins ok and failed, logouts, proxied calls (one a 504), web UI files found and missing."""

    async def session_work(user, wrong_password: bool) -> None:
        async with aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            password = "wrong-password" if wrong_password else user[1]
            # The seed's path: a refused login is a 401 there (Backend.AI's /server/login answers 200).
            path = "/api/auth/login" if wrong_password else "/server/login"
            async with browser.post(path, json={"username": user[0], "password": password}) as answer:
                assert answer.status == (401 if wrong_password else 200)
            if wrong_password:
                return
            for i in range(5):
                async with browser.get(f"/func/auth?echo={i}") as answer:
                    assert answer.status == 200
            async with browser.get("/index.html") as answer:
                assert answer.status == 200
            async with browser.get("/js/no-such-bundle.js") as answer:
                assert answer.status == 404
            async with browser.post("/api/auth/logout") as answer:
                assert answer.status == 200

    async def manager_too_slow() -> None:
        async with aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
            async with browser.post("/api/auth/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}):
                pass
            async with browser.get("/func/dev/slow?delay=2.5") as answer:  # response_timeout is 2 s
                assert answer.status == 504

    await asyncio.gather(
        session_work(ADMIN_USER, False),
        session_work(NORMAL_USER, False),
        session_work(failing_user, True),
        manager_too_slow(),
        garbage_to_a_signer(stack),
    )


async def garbage_to_a_signer(stack) -> None:
    context = zmq.asyncio.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(signer_endpoint(stack.config, f"{sock.gethostname()}-signer-0"))
    try:
        await dealer.send_multipart([os.urandom(64), os.urandom(32)])
        await asyncio.sleep(0.2)
    finally:
        dealer.close()
        context.term()


def has_a_number(result: list[dict]) -> bool:
    return any(math.isfinite(float(series["value"][1])) for series in result)


async def test_every_seed_query_and_dashboard_panel_returns_data(stack, prometheus):
    async with aiohttp.ClientSession() as session:

        async def ready():
            try:
                async with session.get(prometheus.url + "/-/ready") as answer:
                    return answer.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(ready, 30, 0.5, what="prometheus ready")
        await traffic(stack, MONITOR_USER)

        async def scraped():
            expr = f'backendai_api_request_count_total{{service_group="{SERVICE_GROUP}", status_code="504"}}'
            return bool(await prometheus.query(session, expr))

        await eventually(scraped, 30, 0.5, what="prometheus scraping the ops listener")
        await asyncio.sleep(2)  # more samples of the same series, so rates have two points to work with
        await traffic(stack, ("inactive@lablup.com", "xPnTSNLh"))
        await asyncio.sleep(3)  # three scrapes (1 s) after the second round

        queries = [(query, query) for query in seed_queries()] + dashboard_queries()
        empty = []
        for title, expr in queries:
            result = await prometheus.query(session, expr.replace("$service_groups", SERVICE_GROUP))
            if not has_a_number(result):
                empty.append(title)
        assert not empty, f"no data for: {empty}"

        # The label set is Backend.AI's, error labels are empty on success, and the target label is ours.
        ok = await prometheus.query(
            session,
            f'backendai_api_request_count_total{{service_group="{SERVICE_GROUP}", '
            'endpoint="/api/auth/login", status_code="200"}',
        )
        # (Prometheus stores an empty label as no label at all.)
        assert ok and all(
            not series["metric"].get(name) for series in ok for name in ("domain", "operation", "error_detail")
        )
        timeouts = await prometheus.query(session, 'backendai_api_request_count_total{status_code="504"}')
        assert {series["metric"]["error_detail"] for series in timeouts} == {"timeout"}
        assert {series["metric"]["endpoint"] for series in timeouts} == {"/api/func/{path}"}
