"""``service_runtime.background``: which endings of a process's loops are failures, and what is said of them."""

from __future__ import annotations

import asyncio
import logging

import pytest

from service_runtime import background
from service_runtime.background import log_failure, raised_at, report_failures_to, run_in_background


@pytest.fixture
def heard():
    failures: list[tuple[str, BaseException]] = []
    report_failures_to(lambda name, exc: failures.append((name, exc)))
    yield failures
    report_failures_to(log_failure)


async def dies() -> None:
    await asyncio.sleep(0)
    raise KeyError("a session id, say")


async def ends() -> None:
    await asyncio.sleep(0)


async def runs_for_ever() -> None:
    await asyncio.Event().wait()


async def settled(task: asyncio.Task) -> None:
    await asyncio.wait([task])
    await asyncio.sleep(0)  # the done callbacks run one loop turn after the task ends


@pytest.mark.parametrize(
    ("loop", "cancel", "failures"),
    [
        (dies, False, ["the loop"]),  # an error: the one failure
        (ends, False, []),  # nothing to do any more (probes turned off)
        (runs_for_ever, True, []),  # cancelled by a stop
    ],
)
async def test_only_a_loop_that_dies_of_an_error_is_a_failure(heard, loop, cancel, failures):
    task = run_in_background(loop(), "the loop")
    if cancel:
        await asyncio.sleep(0)
        task.cancel()
    await settled(task)
    assert [name for name, _ in heard] == failures
    assert all(isinstance(exc, KeyError) for _, exc in heard)


def test_where_it_was_raised_names_file_line_and_function_only():
    try:
        {}["a secret value"]
    except KeyError as exc:
        where = raised_at(exc)
    assert where.startswith("test_background.py:") and where.endswith(
        " in test_where_it_was_raised_names_file_line_and_function_only"
    )
    assert "secret" not in where
    assert raised_at(RuntimeError()) == "unknown"  # never raised: no frame


async def test_outside_a_process_a_failure_is_logged_without_its_message(caplog):
    assert background._on_failure is log_failure  # no process skeleton in this test process
    with caplog.at_level(logging.ERROR, logger="service_runtime.background"):
        await settled(run_in_background(dies(), "the loop"))
    [record] = caplog.records
    assert record.event == "background_task_failed" and record.task == "the loop"
    assert record.error_type == "KeyError" and record.raised_at.startswith("test_background.py:")
    assert "session id" not in record.getMessage() and not hasattr(record, "error")
