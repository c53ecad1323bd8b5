"""Open WebSockets never starve ordinary requests: they do not share the HTTP upstream pool.

The HTTP pool is made small (``[api] connection_limit``) and more WebSockets than that are kept
open (more than the 1,000 a worker's one shared pool used to hold, too); ordinary proxied requests
must still be answered promptly, and new handshakes must succeed."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.support.stack import ADMIN_USER, RunningStack

pytestmark = pytest.mark.slow

POOL = 4
SOCKETS = 1010  # above the configured pool, and above the former shared pool of 1,000
BURST = 50
PROMPT = 2.0  # seconds; response_timeout is 2 s in the test stacks, so a wait for a slot fails it


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    bounds = f"\n[security]\nwebsocket_max_per_session = {SOCKETS + 1}\nwebsocket_max_per_worker = {SOCKETS + 1}\n"
    running = RunningStack(
        tmp_path_factory.mktemp("wspool"), extra_config=bounds, api_extra=f"connection_limit = {POOL}"
    ).start()
    yield running
    running.stop()


async def test_more_open_websockets_than_the_http_pool_leave_ordinary_requests_prompt(stack):
    async with aiohttp.ClientSession(
        stack.base_url,
        cookie_jar=aiohttp.CookieJar(unsafe=True),
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=10),
    ) as session:
        async with session.post("/server/login", json={"username": ADMIN_USER[0], "password": ADMIN_USER[1]}) as answer:
            assert answer.status == 200
        sockets = []
        try:

            async def open_one(n: int):
                socket = await asyncio.wait_for(session.ws_connect("/func/stream/echo"), PROMPT)
                sockets.append(socket)
                await socket.send_str(f"hello {n}")
                assert (await socket.receive(timeout=PROMPT)).data == f"hello {n}"

            for start in range(0, SOCKETS, BURST):
                await asyncio.gather(*(open_one(n) for n in range(start, min(start + BURST, SOCKETS))))

            async def ordinary(n: int) -> int:
                async with session.get(f"/func/auth?echo={n}", timeout=aiohttp.ClientTimeout(total=PROMPT)) as answer:
                    await answer.read()
                    return answer.status

            statuses = await asyncio.gather(*(ordinary(n) for n in range(3 * POOL)))
            # And a new handshake still gets through.
            await open_one(SOCKETS)
            assert set(statuses) == {200}, statuses
            for socket in sockets:  # the relays still work too
                await socket.send_str("still here")
                assert (await socket.receive(timeout=PROMPT)).data == "still here"
        finally:
            await asyncio.gather(*(socket.close() for socket in sockets), return_exceptions=True)
