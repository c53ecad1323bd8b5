"""Waiting for an asyncio event with a time limit, without losing a cancellation.

On Python 3.11 ``asyncio.wait_for(event.wait(), seconds)`` returns normally when the task is
cancelled in the same loop turn as the event is set: it sees its inner wait done and hands back the
result, and the cancellation is gone.  A loop around it (a readiness report, a registration's
keep-alive) then waits out another interval, and a process's stop waits for it until its bound
(seen: a signer's stop taking its full 5 s, so ``supervisorctl restart`` held requests that long).
``asyncio.timeout`` tells its own expiry from a cancellation that comes from outside, so it is the
one used (``asyncio.wait_for`` is refused by the lint outside tests and benchmarks: ruff's TID251).
The same loss in a groups follower's ``finally`` (its etcd client's close bounded by ``wait_for``,
the stop's cancellation landing as the close finished) kept it looping after etcd died: every
signer of a ``kill -9``ed launcher took its stop's full 5 s bound, 3 runs in 4.
"""

from __future__ import annotations

import asyncio


async def set_within(event: asyncio.Event, seconds: float) -> bool:
    """True once ``event`` is set, False when ``seconds`` passed first; a cancellation propagates."""
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
