"""The log handler of every process: lines logged from an event loop are written in batches, at most
``FLUSH_DELAY`` after the first of them, in one write and in order; warnings and errors, lines outside a
loop, a full buffer and the lines of an exiting process are written at once.  On a real pipe, as
supervisord reads it, in a subprocess."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest

from service_runtime.jsonlog import BatchedStreamHandler, setup_logging
from tests.support.polling import eventually, eventually_sync


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.getvalue().splitlines()]


@pytest.fixture
def stream(monkeypatch):
    stream = CountingStream()
    monkeypatch.setattr(sys, "stderr", stream)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging("test")
    yield stream
    root.handlers[:] = handlers
    root.setLevel(level)


log = logging.getLogger("frontdoor.test")


async def test_lines_of_several_loop_turns_are_written_together_after_the_delay(stream):
    log.info("first", extra={"event": "a"})
    await asyncio.sleep(0)  # another loop turn: the line is still held
    log.info("second", extra={"event": "b"})
    await asyncio.sleep(0)
    assert stream.getvalue() == ""
    await eventually(lambda: len(stream.lines()) == 2, timeout=5, interval=0.01)
    assert [line["msg"] for line in stream.lines()] == ["first", "second"]
    assert stream.writes == 1


@pytest.mark.parametrize("level", [logging.WARNING, logging.ERROR])
async def test_a_warning_or_an_error_is_written_at_once_after_the_lines_before_it(stream, level):
    log.info("before")
    log.log(level, "broken")
    assert [line["msg"] for line in stream.lines()] == ["before", "broken"]


def test_lines_outside_a_loop_are_written_at_once(stream):
    log.info("starting")
    assert [line["msg"] for line in stream.lines()] == ["starting"]


def test_a_loop_that_ended_before_its_timer_does_not_hold_back_the_next_loops_lines(stream):
    async def log_and_end():
        log.info("last of the first loop")

    loop = asyncio.new_event_loop()
    loop.run_until_complete(log_and_end())
    loop.close()  # closed with the handler's timer pending

    async def log_again():
        log.info("in the second loop")
        await eventually(lambda: len(stream.lines()) == 2, timeout=5, interval=0.01)

    asyncio.run(log_again())
    assert [line["msg"] for line in stream.lines()] == ["last of the first loop", "in the second loop"]


def test_a_full_buffer_is_written_at_once():
    stream = CountingStream()
    handler = BatchedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "x" * 1000, None, None)

    async def flood():
        for _ in range(BatchedStreamHandler.MAX_BUFFERED // 1000 + 1):
            handler.emit(record)
        return stream.writes

    assert asyncio.run(flood()) == 1


# A process as the stack runs one: uvloop, setup_logging, stderr a pipe that the parent reads.  Each
# line's "ts" is when it was logged; the parent notes when it arrived.
CHILD = textwrap.dedent("""
    import asyncio, logging, sys, time
    import uvloop
    from service_runtime.jsonlog import setup_logging

    setup_logging("pipe-test")
    log = logging.getLogger("frontdoor.pipe_test")

    async def main(case):
        log.info("held")
        await asyncio.sleep(0)
        log.info("next turn")
        if case in ("warning", "error"):
            log.log(getattr(logging, case.upper()), "at once")
            time.sleep(30)  # the loop blocked: only a write made at the warning can reach the pipe
        elif case == "idle":
            await asyncio.sleep(30)  # nothing else happens: the timer alone must write
        # case "exit": return at once, the lines still buffered

    uvloop.run(main(sys.argv[1]))
""")


class PipeReader:
    """The child's stderr, read as it arrives, each line with its arrival time."""

    def __init__(self, case: str):
        self.child = subprocess.Popen(
            [sys.executable, "-c", CHILD, case],
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # as supervisord.conf runs the programs
        )
        os.set_blocking(self.child.stderr.fileno(), False)
        self.arrived: list[tuple[float, dict]] = []
        self._partial = b""

    def read(self) -> list[tuple[float, dict]]:
        try:
            chunk = os.read(self.child.stderr.fileno(), 65536)
        except BlockingIOError:
            chunk = b""
        now = time.time()
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        self.arrived += [(now, json.loads(line)) for line in lines]
        return self.arrived

    def messages(self) -> list[str]:
        return [line["msg"] for _, line in self.arrived]

    def close(self) -> None:
        self.child.kill()
        self.child.wait()
        self.child.stderr.close()


@pytest.fixture
def pipe_child():
    children = []

    def start(case: str) -> PipeReader:
        children.append(PipeReader(case))
        return children[-1]

    yield start
    for child in children:
        child.close()


def test_info_lines_reach_the_pipe_together_within_the_delay_with_nothing_else_happening(pipe_child):
    child = pipe_child("idle")
    eventually_sync(lambda: len(child.read()) == 2, timeout=20, interval=0.005)
    (first_arrival, first), _ = child.arrived
    assert child.messages() == ["held", "next turn"]
    # Written by the timer, not by the child's exit (30 s away).  Bound: the delay plus this busy
    # machine's scheduling slack.
    assert first_arrival - first["ts"] < BatchedStreamHandler.FLUSH_DELAY + 2.0
    assert child.child.poll() is None


@pytest.mark.parametrize("case", ["warning", "error"])
def test_a_warning_or_an_error_reaches_the_pipe_at_once_with_the_lines_before_it(pipe_child, case):
    child = pipe_child(case)
    eventually_sync(lambda: len(child.read()) == 3, timeout=20, interval=0.005)
    assert child.messages() == ["held", "next turn", "at once"]
    assert child.child.poll() is None  # still blocked in the loop: the line's own write


def test_buffered_lines_reach_the_pipe_at_a_clean_exit(pipe_child):
    child = pipe_child("exit")
    assert child.child.wait(timeout=20) == 0
    child.read()
    assert child.messages() == ["held", "next turn"]
