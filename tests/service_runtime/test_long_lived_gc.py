"""The collector plan for long-lived connections: freeze after opens, a full collection once as many
closed as are open; and in this process, what a freeze keeps and a full step frees."""

from __future__ import annotations

import gc
import weakref

import pytest

from service_runtime.long_lived_gc import FreezePlan, LongLivedCollector, Step


def test_nothing_opened_means_nothing_to_do():
    assert FreezePlan().next_step(0, 0) is None


def test_opens_are_frozen_once():
    plan = FreezePlan()
    assert plan.next_step(5, 0) is Step.FREEZE
    plan.done(Step.FREEZE, 5, 0)
    assert plan.next_step(5, 0) is None
    assert plan.next_step(6, 0) is Step.FREEZE


def test_a_full_step_waits_until_as_many_closed_as_are_open():
    plan = FreezePlan(full_after_closed=10)
    plan.done(Step.FREEZE, 100, 0)
    assert plan.next_step(100, 40) is None  # 40 closed, 60 open
    assert plan.next_step(100, 50) is Step.FULL  # 50 closed, 50 open
    plan.done(Step.FULL, 100, 50)
    assert plan.next_step(100, 74) is None  # counted from the last full step: 24 closed, 26 open
    assert plan.next_step(100, 75) is Step.FULL


def test_the_floor_keeps_small_numbers_from_collecting_everything():
    plan = FreezePlan(full_after_closed=1000)
    plan.done(Step.FREEZE, 3, 0)
    assert plan.next_step(3, 3) is None
    assert plan.next_step(1000, 1000) is Step.FULL


def test_freezes_alone_end_in_a_full_step():
    plan = FreezePlan(max_freezes=3)
    for opened in range(1, 4):
        assert plan.next_step(opened, 0) is Step.FREEZE
        plan.done(Step.FREEZE, opened, 0)
    assert plan.next_step(4, 0) is Step.FULL
    plan.done(Step.FULL, 4, 0)
    assert plan.freezes == 0


class Connection:
    """Stands for a relayed socket's objects: a reference cycle, as aiohttp's protocol and transport."""

    def __init__(self):
        self.peer = self


@pytest.fixture
def unfrozen():
    yield
    gc.unfreeze()  # this test process must not keep what the steps froze


def test_a_freeze_keeps_a_closed_connections_cycle_until_the_full_step(unfrozen):
    counts = [0, 0]
    collector = LongLivedCollector(lambda: (counts[0], counts[1]), FreezePlan(full_after_closed=1))
    connection = Connection()
    counts[0] += 1
    assert collector.step() is Step.FREEZE
    assert gc.get_freeze_count() > 0
    gone = weakref.ref(connection)
    del connection  # the relay ended: only the cycle holds it
    counts[1] += 1
    gc.collect()
    assert gone() is not None, "a frozen cycle is not walked by collections"
    assert collector.step() is Step.FULL
    assert gone() is None
    assert gc.get_freeze_count() > 0  # what is still alive is frozen again
