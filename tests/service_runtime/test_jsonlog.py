"""The log handler of every process: lines logged during an event-loop turn are written after it, in
one write and in order; errors, lines outside a loop and a full buffer are written at once."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys

import pytest

from service_runtime.jsonlog import LoopBatchedStreamHandler, setup_logging


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


def test_lines_of_one_loop_turn_are_written_after_it_in_one_write(stream):
    seen_during_turn: list[str] = []

    async def serve():
        log.info("first", extra={"event": "a"})
        log.info("second", extra={"event": "b"})
        seen_during_turn.append(stream.getvalue())
        await asyncio.sleep(0)  # the turn ends: the handler's callback runs
        await asyncio.sleep(0)

    asyncio.run(serve())
    assert seen_during_turn == [""]
    assert [line["msg"] for line in stream.lines()] == ["first", "second"]
    assert stream.writes == 1


def test_an_error_is_written_at_once_after_the_lines_before_it(stream):
    async def fail():
        log.info("before")
        log.error("broken")
        return stream.getvalue()

    during = asyncio.run(fail())
    assert [json.loads(line)["msg"] for line in during.splitlines()] == ["before", "broken"]


def test_lines_outside_a_loop_are_written_at_once(stream):
    log.info("starting")
    assert [line["msg"] for line in stream.lines()] == ["starting"]


def test_a_loop_that_ended_before_its_turn_does_not_hold_back_the_next_loops_lines(stream):
    async def log_and_end():
        log.info("last of the first loop")

    loop = asyncio.new_event_loop()
    loop.run_until_complete(log_and_end())
    loop.close()  # closed with the handler's callback still queued

    async def log_again():
        log.info("in the second loop")
        await asyncio.sleep(0)
        await asyncio.sleep(0)

    asyncio.run(log_again())
    assert [line["msg"] for line in stream.lines()] == ["last of the first loop", "in the second loop"]


def test_a_full_buffer_is_written_at_once():
    stream = CountingStream()
    handler = LoopBatchedStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "x" * 1000, None, None)

    async def flood():
        for _ in range(LoopBatchedStreamHandler.MAX_BUFFERED // 1000 + 1):
            handler.emit(record)
        return stream.writes

    assert asyncio.run(flood()) == 1
