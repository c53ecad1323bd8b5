"""``webui-host roll-frontdoors``: every front-door worker restarted under steady load, no request failed.

(``supervisorctl restart 'frontdoor:*'`` stops all workers at once: seconds of refused connections.)
"""

from __future__ import annotations

import asyncio
import subprocess

import aiohttp
import pytest

from tests.support.stack import ADMIN_USER, VENV_BIN, RunningStack

pytestmark = pytest.mark.slow

CLIENTS = 8


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    running = RunningStack(tmp_path_factory.mktemp("rollfd"), workers=2).start()
    yield running
    running.stop()


async def steady_load(stack, change) -> tuple[list[int | str], list[str]]:
    """CLIENTS loops of signed calls, each a fresh client connection now and then, while ``change``
    runs in a thread; a connection error counts as a failed request (it is what a browser sees)."""
    results: list[int | str] = []
    done = asyncio.Event()
    outputs: list[str] = []
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        stack.base_url, cookie_jar=jar, timeout=aiohttp.ClientTimeout(total=10)
    ) as session:
        async with session.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as answer:
            assert answer.status == 200

        async def client(n: int) -> None:
            i = 0
            while not done.is_set():
                try:
                    async with session.get(f"/func/auth?echo={n}-{i}") as answer:
                        await answer.read()
                        results.append(answer.status)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    results.append(type(exc).__name__)
                i += 1

        clients = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
        await asyncio.sleep(0.5)
        outputs.append(await asyncio.to_thread(change))
        await asyncio.sleep(1.0)
        done.set()
        await asyncio.gather(*clients)
    return results, outputs


def summary(results: list) -> dict:
    return {str(r): results.count(r) for r in set(results)}


async def test_roll_frontdoors_restarts_every_worker_and_fails_no_request(stack):
    before = sorted(stack.pids("frontdoor:"))

    def roll() -> str:
        done = subprocess.run(
            [str(VENV_BIN / "webui-host"), "roll-frontdoors", "-f", str(stack.config_path)],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    results, outputs = await steady_load(stack, roll)
    after = stack.pids("frontdoor:")
    assert len(after) == 2 and not set(before) & set(after)
    assert "rolled 2 front doors" in outputs[0]
    assert len(results) > 100 and set(results) == {200}, summary(results)
