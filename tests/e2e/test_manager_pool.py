"""Several Managers behind /func ([api] endpoint = [dead, alive]): requests go to the healthy ones.

Against the original proxy, which used the first URL only, every /func call got 502 and /readyz 503.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import urllib.request

import aiohttp
import psutil
import pytest

from tests.support.polling import eventually, eventually_sync
from tests.support.ports import free_ports, port_is_free
from tests.support.stack import ADMIN_USER, RunningStack

pytestmark = pytest.mark.slow


@pytest.fixture
def managers(tmp_path):
    """One development Manager of our own, and an address where none listens."""
    live, dead = free_ports(2)
    log = open(tmp_path / "devstack.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack", "--host", "127.0.0.1", "--port", str(live)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    eventually_sync(lambda: not port_is_free(live), timeout=20, what="devstack listening")
    yield f"http://127.0.0.1:{live}", f"http://127.0.0.1:{dead}"
    process.terminate()
    process.wait(timeout=10)
    log.close()


@pytest.fixture
def pooled_stack(tmp_path, managers):
    live, dead = managers
    api = f'endpoint = ["{dead}", "{live}"]\nhealth_check_interval = 0.5\nunhealthy_after = 1'
    (tmp_path / "stack").mkdir()
    stack = RunningStack(tmp_path / "stack", signers=1, api_extra=api).start()
    yield stack, live, dead
    stack.stop()


async def test_requests_go_to_the_manager_that_answers(pooled_stack):
    stack, live, dead = pooled_stack
    async with aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as r:
            assert r.status == 200
        statuses = []
        for batch in range(5):
            answers = await asyncio.gather(*(session.get(f"/func/auth?echo={batch}-{i}") for i in range(10)))
            statuses += [answer.status for answer in answers]
            for answer in answers:
                answer.release()
        assert set(statuses) == {200}, statuses
        async with session.post("/func/admin/graphql", json={"query": "{ user { email } }"}) as answer:
            assert answer.status == 200  # a POST is moved on too: the dead endpoint never got a byte

        async def shown_out_of_use():
            async with session.get("/api/webapi/groups") as response:
                body = await response.json()
            (manager,) = [d for g in body["groups"] for d in g["deployments"] if d["name"] == "manager"]
            health = {e["url"]: e["healthy"] for e in manager["endpoints"]}
            return health == {dead: False, live: True}

        await eventually(shown_out_of_use, timeout=10)
    with urllib.request.urlopen(stack.ops_url + "/readyz", timeout=5) as ready:
        doc = json.load(ready)
    assert ready.status == 200 and doc["connectivity"]["manager"]["detail"] == "1 of 2 Manager endpoints answer"


@pytest.fixture
def two_managers(tmp_path):
    ports = free_ports(2)
    processes = []
    for port in ports:
        log = open(tmp_path / f"devstack-{port}.log", "wb")
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "devstack", "--host", "127.0.0.1", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    for port in ports:
        eventually_sync(lambda port=port: not port_is_free(port), timeout=20, what="devstack listening")
    yield [f"http://127.0.0.1:{port}" for port in ports], processes
    for process in processes:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


async def test_a_manager_killed_under_load_costs_no_idempotent_request(tmp_path, two_managers):
    (first, second), processes = two_managers
    api = f'endpoint = ["{first}", "{second}"]\nhealth_check_interval = 0.5\nunhealthy_after = 1'
    (tmp_path / "stack").mkdir()
    stack = RunningStack(tmp_path / "stack", signers=1, api_extra=api).start()
    try:
        async with aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            async with session.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}):
                pass
            statuses: list[int] = []

            async def call(i: int, delay: float = 0.05) -> None:
                # A slow answer keeps requests in flight on the Manager that is killed.
                path = f"/func/dev/slow?delay={delay}&n={i}" if i % 2 else f"/func/auth?echo={i}"
                async with session.get(path) as answer:
                    statuses.append(answer.status)

            def connections_to(url: str) -> int:
                """Connections the Manager at ``url`` holds: several at once are requests in flight."""
                port = int(url.rsplit(":", 1)[1])
                return sum(
                    1
                    for c in psutil.net_connections("tcp")
                    if c.laddr and c.laddr.port == port and c.status == "ESTABLISHED"
                )

            for i in range(6):  # both Managers answering, over one kept-alive connection each
                await call(i)
            slow = [asyncio.ensure_future(call(2 * i + 1, delay=1.0)) for i in range(20)]
            await eventually(lambda: connections_to(first) >= 5, timeout=5, interval=0.02)
            processes[0].kill()  # the first Manager dies with requests in flight
            for wave in range(5):
                await asyncio.gather(*(call(1000 + 20 * wave + i) for i in range(20)))
            await asyncio.gather(*slow)
        assert len(statuses) == 126 and set(statuses) == {200}, sorted(set(statuses))
    finally:
        stack.stop()
