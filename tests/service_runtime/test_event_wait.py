"""``set_within``: an event awaited with a time limit, and a cancellation never lost on the way."""

import asyncio

from service_runtime.event_wait import set_within


async def test_true_once_set_false_when_the_time_passed_first():
    event = asyncio.Event()
    asyncio.get_running_loop().call_later(0.01, event.set)
    assert await set_within(event, 5.0) is True
    assert await set_within(asyncio.Event(), 0.01) is False


async def test_a_loop_cancelled_as_its_event_is_set_ends():
    # The race of a process's stop: the task is cancelled in the loop turn the event is set in.
    # asyncio.wait_for (Python 3.11) handed the event's result back then, and the loop waited again.
    event = asyncio.Event()
    rounds = 0

    async def report_until_cancelled():
        nonlocal rounds
        while True:
            rounds += 1
            event.clear()
            await set_within(event, 60.0)

    task = asyncio.create_task(report_until_cancelled())
    for _ in range(3):  # the task is now waiting on the event
        await asyncio.sleep(0)
    assert rounds == 1
    event.set()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2.0)
    assert task in done and task.cancelled(), f"still looping after {rounds} rounds"
