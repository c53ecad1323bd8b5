"""Thousands of idle WebSockets opened and held while the steady load goes on: the handshakes, the
open sockets and the ordinary requests do not get in each other's way (separate upstream pools).

CI opens ``FAULTS_WEBSOCKETS`` (2,000) of them; ``FAULTS_WEBSOCKETS=10000`` is the issue's figure,
which bench/websockets.py also measures, with the memory each costs.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.conftest import WEBSOCKETS
from tests.faults.load import NO_WAIT, logged_in, under_load
from tests.support.websockets import close_all, closed_codes, echo_sample, open_sockets, raise_fd_limit

pytestmark = pytest.mark.slow

BURST = 200  # handshakes under way at once
HELD = 5.0  # seconds the sockets stay open, idle, under the load


async def test_idle_websockets_leave_ordinary_requests_unaffected(stack, report):
    """Opened first (a burst of handshakes is a load of its own), then held idle under the load."""
    raise_fd_limit(WEBSOCKETS)
    loop = asyncio.get_running_loop()
    holder = await logged_in(stack.base_url)
    session = await logged_in(stack.base_url)
    sockets: list = []
    held: dict = {}

    def hold() -> None:
        time.sleep(HELD)  # idle, under the load
        held["echo"] = asyncio.run_coroutine_threadsafe(echo_sample(sockets, 100), loop).result()
        held["closed"] = closed_codes(sockets)

    try:
        opened, failed, seconds = await open_sockets(holder, WEBSOCKETS, BURST)
        sockets.extend(opened)
        outcome = await under_load(session, hold)
    finally:
        await close_all(sockets)
        await session.close()
        await holder.close()
    report(
        outcome.line(f"{len(sockets)} idle WebSockets held")
        + f"; opened in {seconds:.1f} s, handshakes failed {failed}, echo on 100 sampled {held['echo']},"
        + f" closed {held['closed'] or 'none'}"
    )
    assert len(sockets) == WEBSOCKETS and failed == 0
    assert held["echo"] == {"echo": 100} and not held["closed"]
    outcome.assert_held(slowest=NO_WAIT)
