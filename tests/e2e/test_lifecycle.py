"""Changing a running host without failing requests: the signer pool restarted or rolled under load,
and the front door draining on SIGTERM."""

from __future__ import annotations

import asyncio
import subprocess
import time

import aiohttp
import pytest
from aiohttp import WSMsgType

from tests.support.polling import eventually
from tests.support.stack import ADMIN_USER, VENV_BIN, RunningStack

pytestmark = pytest.mark.slow

UNREADY_DELAY, DRAIN_TIMEOUT = 1.0, 4.0
CLIENTS = 8


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = RunningStack(
        tmp_path_factory.mktemp("lifecycle"),
        ops_extra=f"unready_delay = {UNREADY_DELAY}\ndrain_timeout = {DRAIN_TIMEOUT}",
    ).start()
    yield running
    running.stop()


async def logged_in(stack) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(stack.base_url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as answer:
        assert answer.status == 200
    return session


async def under_load(stack, change) -> list[int]:
    """Signed calls from CLIENTS loops while ``change()`` runs (in a thread), and a second after it."""
    statuses: list[int] = []
    done = asyncio.Event()
    session = await logged_in(stack)

    async def client(n: int) -> None:
        i = 0
        while not done.is_set():
            async with session.get(f"/func/auth?echo={n}-{i}") as answer:
                await answer.read()
                statuses.append(answer.status)
            i += 1

    try:
        clients = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
        await asyncio.sleep(0.5)
        await asyncio.to_thread(change)
        await asyncio.sleep(1.0)
        done.set()
        await asyncio.gather(*clients)
    finally:
        await session.close()
    return statuses


def summary(statuses: list[int]) -> dict[int, int]:
    return {status: statuses.count(status) for status in sorted(set(statuses))}


async def test_supervisorctl_restart_of_the_whole_pool_fails_no_request(stack):
    before = stack.pids("signers:")
    statuses = await under_load(stack, lambda: stack.supervisorctl("restart", "signers:*"))
    after = stack.pids("signers:")
    assert len(after) == 2 and not set(before) & set(after)
    assert len(statuses) > 50 and set(statuses) == {200}, summary(statuses)


async def test_roll_signers_fails_no_request(stack):
    before = stack.pids("signers:")
    outputs: list[str] = []

    def roll() -> None:
        done = subprocess.run(
            [str(VENV_BIN / "webui-host"), "roll-signers", "-f", str(stack.config_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        outputs.append(done.stdout + done.stderr)
        assert done.returncode == 0, outputs[-1]

    statuses = await under_load(stack, roll)
    after = stack.pids("signers:")
    assert len(after) == 2 and not set(before) & set(after)
    assert "rolled 2 signers" in outputs[0]
    assert len(statuses) > 50 and set(statuses) == {200}, summary(statuses)


async def test_sigterm_turns_unready_stops_accepting_and_drains_requests_and_websockets(stack):
    session = await logged_in(stack)
    ops = aiohttp.ClientSession(stack.ops_url)
    try:
        socket = await session.ws_connect("/func/stream/echo")
        slow = asyncio.ensure_future(session.get("/func/dev/slow?delay=1.5"))  # under response_timeout (2 s)

        async def slow_in_flight() -> bool:
            async with session.get("/stats?format=json") as answer:
                return (await answer.json())["active_proxy_api_handlers"] == 1

        await eventually(slow_in_flight, timeout=5, what="the slow request in flight")
        started = time.monotonic()
        stopping = asyncio.ensure_future(asyncio.to_thread(stack.supervisorctl, "stop", "frontdoor:*"))

        async def unready():
            try:
                async with ops.get("/readyz") as answer:
                    return answer.status == 503 and (await answer.json())["draining"]
            except aiohttp.ClientError:
                return False

        await eventually(unready, timeout=UNREADY_DELAY, what="/readyz unready and draining")

        async def listener_closed():
            try:
                async with aiohttp.ClientSession() as fresh:
                    await fresh.get(stack.base_url + "/stats")
            except aiohttp.ClientConnectionError:
                return True
            return False

        # The public listener closes after the unready delay (a loaded machine may take a moment more).
        await eventually(listener_closed, timeout=UNREADY_DELAY + 2, interval=0.2)
        async with await slow as answer:  # the request in flight finished normally
            assert answer.status == 200 and (await answer.json())["slept"] == 1.5
        await socket.send_str("still relayed while draining")
        assert (await socket.receive(timeout=2)).data == "still relayed while draining"
        closing = await socket.receive(timeout=UNREADY_DELAY + DRAIN_TIMEOUT + 2)
        assert closing.type in (WSMsgType.CLOSE, WSMsgType.CLOSED) and socket.close_code == 1001
        elapsed = time.monotonic() - started
        assert UNREADY_DELAY + DRAIN_TIMEOUT - 0.5 <= elapsed <= UNREADY_DELAY + DRAIN_TIMEOUT + 2
        assert "stopped" in (await stopping).lower()
        log = stack.config.runtime.state_dir / "logs" / "frontdoor_00.log"
        # It exited on its own, nothing was cut (supervisord may copy the last lines a moment later).
        await eventually(lambda: '"event":"drain_done","status":"success"' in log.read_text(), timeout=3)
    finally:
        await ops.close()
        await session.close()
        stack.supervisorctl("start", "frontdoor:*")
    stack.wait_until_serving()
