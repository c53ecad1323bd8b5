"""Keep long-lived connections out of the cyclic collector's full collections.

CPython's full (generation-2) collection walks every tracked object; a process holding thousands of
idle WebSockets holds ~70 tracked objects per socket, so with 2,000 sockets a worker's full collection
took 0.2-0.8 s (gc.callbacks, docs/performance.md), stopping every request it was serving.  CPython
starts one whenever the objects that survived since the last one exceed a quarter of those that
survived it, which ordinary traffic reaches within seconds to minutes.

``gc.freeze()`` (a list splice, no walk) moves every tracked object out of the collector's sight;
frozen objects are still freed by reference counting, only a cycle among them waits.  So: after
connections opened, collect what is not frozen (cheap: only what is newer than the last freeze) and
freeze what survives; the full collections that follow walk only the newer objects.  A closed
connection's cycles stay frozen until a *full* step (unfreeze, collect everything, freeze again),
taken once as many connections closed as are open (at least ``FULL_AFTER_CLOSED``): the memory
waiting is at most that of the open ones, and the pause comes once per turnover of the connections,
not once per quarter growth of the survivors.  ``MAX_FREEZES`` bounds what in-flight requests
frozen along the way can hold.
"""

from __future__ import annotations

import asyncio
import enum
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)
FREEZE_INTERVAL = 1.0  # seconds between steps: connections opened meanwhile are walked until then
FULL_AFTER_CLOSED = 1000
MAX_FREEZES = 3600  # an hour of freezes 1 s apart, then one full step


class Step(enum.Enum):
    FREEZE = "freeze"  # collect what is not frozen, freeze the rest
    FULL = "full"  # unfreeze, collect everything, freeze the rest


@dataclass
class FreezePlan:
    """When to freeze and when to collect everything, from counts of connections opened and closed
    (both totals since the process started)."""

    frozen_at_opened: int = 0  # the opened total at the last step
    full_at_closed: int = 0  # the closed total at the last full step
    freezes: int = 0  # since the last full step
    full_after_closed: int = FULL_AFTER_CLOSED
    max_freezes: int = MAX_FREEZES

    def next_step(self, opened: int, closed: int) -> Step | None:
        open_now = opened - closed
        if closed - self.full_at_closed >= max(self.full_after_closed, open_now) or self.freezes >= self.max_freezes:
            return Step.FULL
        if opened > self.frozen_at_opened:
            return Step.FREEZE
        return None

    def done(self, step: Step, opened: int, closed: int) -> None:
        self.frozen_at_opened = opened
        if step is Step.FULL:
            self.full_at_closed = closed
            self.freezes = 0
        else:
            self.freezes += 1


def take(step: Step) -> None:
    if step is Step.FULL:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


class LongLivedCollector:
    """Runs a ``FreezePlan`` every ``FREEZE_INTERVAL`` over ``counts()`` = (opened, closed) totals."""

    def __init__(self, counts: Callable[[], tuple[int, int]], plan: FreezePlan | None = None):
        self._counts = counts
        self.plan = plan or FreezePlan()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FREEZE_INTERVAL)
            self.step()

    def step(self) -> Step | None:
        opened, closed = self._counts()
        step = self.plan.next_step(opened, closed)
        if step is not None:
            started = time.perf_counter()
            take(step)
            self.plan.done(step, opened, closed)
            log.debug(
                "collector step",
                extra={
                    "event": "gc_step",
                    "step": step.value,
                    "open": opened - closed,
                    "seconds": time.perf_counter() - started,
                },
            )
        return step
