"""The request line written without a LogRecord (``LineLogger``) is the line ``Logger.info`` writes,
byte for byte, through the same handler and buffer, at the logger's level of the moment; anything else
that could see or change the record (filters, other handlers, the text format) gets it as before."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import random
import sys
import time

import pytest

from service_runtime.jsonlog import REQUEST_ID, JsonFormatter, setup_logging, time_stamp
from service_runtime.linelog import LineLogger, direct_handlers

NOW = 1764452828.1234567  # a time stamp with more digits than the line keeps
FIELDS = [
    {
        "event": "proxy_request",
        "request_id": "0123456789abcdef",
        "method": "GET",
        "path": "/func/server/login-check",
        "status": "success",
        "status_code": 200,
        "user_id": "u@example.com",
        "duration_ms": 1.23,
    },
    {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "event": "http_request", "user_id": None, "duration_ms": 0.5},
    {"event": "e2", "password": "P", "session_id": "S", "token": "T", "x_cookie": "C", "signature": "s", "kept": 1},
    {"level": "mine", "pid": "mine", "logger": "mine", "event": "e4"},
    {"where": ["é", '"q"\n', 1.5, True, float("nan")], "nested": {"a": None}},
    {},
]


class Stream(io.StringIO):
    def set_up(self, level: str = "INFO", fmt: str = "json") -> None:
        """``setup_logging`` (what a process and a reload do) with this stream as stderr."""
        stderr, sys.stderr = sys.stderr, self
        try:
            setup_logging("frontdoor", level, fmt)
        finally:
            sys.stderr = stderr


@pytest.fixture
def stream():
    root, requests = logging.getLogger(), logging.getLogger("frontdoor.requests")
    handlers, level = root.handlers[:], root.level
    yield Stream()
    root.handlers[:] = handlers
    root.setLevel(level)
    requests.filters.clear()
    requests.setLevel(logging.NOTSET)


@pytest.fixture
def fixed_clock(monkeypatch):
    monkeypatch.setattr(time, "time", lambda: NOW)  # LogRecord's clock and the direct line's


def written(stream: Stream) -> list[str]:
    logging.getLogger().handlers[0].flush()
    lines = stream.getvalue().splitlines()
    stream.seek(0)
    stream.truncate()
    return lines


@pytest.mark.parametrize("fields", FIELDS)
@pytest.mark.parametrize("request_id", [None, "req-in-context"])
def test_the_direct_line_is_the_generic_line_byte_for_byte(stream, fixed_clock, fields, request_id):
    stream.set_up()
    log = logging.getLogger("frontdoor.requests")
    token = REQUEST_ID.set(request_id)
    try:
        log.info("request", extra=fields)
        generic = written(stream)
        LineLogger(log).info("request", fields)
        direct = written(stream)
    finally:
        REQUEST_ID.reset(token)
    assert direct == generic and len(direct) == 1
    for secret in ('"P"', '"S"', '"T"', '"C"', '"s"'):
        assert secret not in direct[0]


def test_a_library_loggers_direct_line_is_its_generic_line(stream, fixed_clock):
    stream.set_up()
    log = logging.getLogger("aiohttp.web")
    log.info("request", extra={"n": 1})
    generic = written(stream)
    LineLogger(log).info("request", {"n": 1})
    assert written(stream) == generic and '"event":"library_log"' in generic[0]


def test_a_field_named_as_a_records_attribute_is_refused_as_before(stream):
    stream.set_up()
    log = logging.getLogger("frontdoor.requests")
    for name in ("msg", "message", "levelno"):
        with pytest.raises(KeyError, match="Attempt to overwrite"):
            log.info("request", extra={name: 1})
        with pytest.raises(KeyError, match="Attempt to overwrite"):
            LineLogger(log).info("request", {name: 1})
    assert written(stream) == []


def test_the_line_is_written_without_a_record(stream, monkeypatch):
    stream.set_up()
    log = logging.getLogger("frontdoor.requests")
    made = []
    monkeypatch.setattr(log, "makeRecord", lambda *args, **kwargs: made.append(args))
    LineLogger(log).info("request", FIELDS[0])
    assert made == [] and len(written(stream)) == 1


def test_the_level_of_the_moment_decides_a_reload_applying_at_once(stream):
    lines, log = LineLogger(logging.getLogger("frontdoor.requests")), logging.getLogger("frontdoor.requests")
    stream.set_up("WARNING")
    lines.info("request", {"n": 1})
    assert written(stream) == []
    stream.set_up("INFO")  # a reload's new level
    lines.info("request", {"n": 2})
    assert [line.endswith('"n":2,"event":"log"}') for line in written(stream)] == [True]
    log.setLevel(logging.ERROR)
    lines.info("request", {"n": 3})
    assert written(stream) == []
    log.setLevel(logging.NOTSET)
    logging.disable(logging.INFO)
    try:
        lines.info("request", {"n": 4})
    finally:
        logging.disable(logging.NOTSET)
    assert written(stream) == []


def test_a_new_format_applies_to_the_next_line(stream):
    stream.set_up("INFO", "text")
    LineLogger(logging.getLogger("frontdoor.requests")).info("request", {"event": "http_request", "n": 1})
    [line] = written(stream)
    assert line.endswith(" INFO    frontdoor: request event=http_request n=1")


def test_a_filter_on_the_logger_is_honoured(stream):
    stream.set_up()
    log = logging.getLogger("frontdoor.requests")

    def drop_or_mark(record: logging.LogRecord) -> bool:
        record.marked = True
        return record.n != 1

    log.addFilter(drop_or_mark)
    LineLogger(log).info("request", {"n": 1})
    LineLogger(log).info("request", {"n": 2})
    [line] = written(stream)
    assert line.endswith('"n":2,"marked":true,"event":"log"}')


def test_a_filter_on_the_handler_and_another_handler_are_honoured(stream):
    stream.set_up()
    log = logging.getLogger("frontdoor.requests")
    root_handler = logging.getLogger().handlers[0]
    root_handler.addFilter(lambda record: record.n != 1)
    LineLogger(log).info("request", {"n": 1})
    LineLogger(log).info("request", {"n": 2})
    assert [line.endswith('"n":2,"event":"log"}') for line in written(stream)] == [True]
    root_handler.filters.clear()
    seen: list[logging.LogRecord] = []
    other = logging.Handler()
    other.emit = seen.append
    log.addHandler(other)
    try:
        LineLogger(log).info("request", {"n": 3})
    finally:
        log.removeHandler(other)
    assert [record.n for record in seen] == [3] and len(written(stream)) == 1
    assert direct_handlers(log, logging.INFO) == [root_handler]


def test_every_json_handler_on_the_way_writes_the_generic_line(stream, fixed_clock):
    stream.set_up()
    log = logging.getLogger("frontdoor.requests")
    own_stream = io.StringIO()
    own = type(logging.getLogger().handlers[0])(own_stream)  # a second batched JSON handler, on the logger
    own.setFormatter(JsonFormatter("frontdoor"))
    log.addHandler(own)
    try:
        assert direct_handlers(log, logging.INFO) == [own, logging.getLogger().handlers[0]]
        lines = []
        for write in (lambda: log.info("request", extra=FIELDS[0]), lambda: LineLogger(log).info("request", FIELDS[0])):
            write()
            own.flush()
            lines.append((own_stream.getvalue(), written(stream)))
            own_stream.seek(0)
            own_stream.truncate()
    finally:
        log.removeHandler(own)
    generic, direct = lines
    assert direct == generic and generic[0] == generic[1][0] + "\n"


async def test_direct_and_generic_lines_share_one_buffer_in_order(stream):
    stream.set_up()
    log = logging.getLogger("frontdoor.requests")
    log.info("first", extra={"n": 1})
    LineLogger(log).info("second", {"n": 2})
    log.info("third", extra={"n": 3})
    await asyncio.sleep(0)
    assert stream.getvalue() == ""  # still buffered: one write for the batch
    log.warning("fourth")  # a warning writes the buffer at once, the lines before it first
    assert [line.split('"msg":"')[1].split('"')[0] for line in stream.getvalue().splitlines()] == [
        "first",
        "second",
        "third",
        "fourth",
    ]


def test_a_line_that_cannot_be_encoded_is_reported_and_the_next_is_intact(stream, monkeypatch):
    monkeypatch.setattr(logging, "raiseExceptions", False)  # the handler's error report: not this test's

    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text")

    stream.set_up()
    lines = LineLogger(logging.getLogger("frontdoor.requests"))
    shared = [Unprintable()]
    lines.info("lost", {"items": shared})
    shared[:] = [1]
    lines.info("kept", {"items": shared})
    assert [line.endswith('"items":[1],"event":"log"}') for line in written(stream)] == [True]


def test_a_forked_childs_direct_lines_carry_its_own_pid(stream):
    stream.set_up()
    formatter = logging.getLogger().handlers[0].formatter
    parent_line = formatter.fields_line(NOW, "frontdoor.requests", "request", FIELDS[0])  # its fixed keys kept
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: the same line, by the formatter it inherited, into the pipe
        try:
            os.write(write_end, formatter.fields_line(NOW, "frontdoor.requests", "request", FIELDS[0]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child_line = pipe.read().decode()
    os.waitpid(child, 0)
    assert json.loads(parent_line)["pid"] == os.getpid() and json.loads(child_line)["pid"] == child
    assert child_line == parent_line.replace(f'"pid":{os.getpid()},', f'"pid":{child},')


def test_the_time_stamp_is_repr_of_the_time_rounded_to_milliseconds():
    rng = random.Random(15)
    clock = [1.7e9 + rng.random() * 3e8 for _ in range(200_000)]
    ties = [1.7e9 + n / 1000 + 0.0005 for n in range(2000)]  # halfway in decimal, not in binary
    exact = [1764470000.0, 1764470000.5, 1764470000.25, 1764470000.125, 1764470000.0625, 0.0, 0.0004, 0.0005]
    elsewhere = [-0.0001, -1.5, 1e12, 1e12 - 0.0001, 3e15, 1e17, float("inf"), float("nan"), 5e-324]
    for created in clock + ties + exact + elsewhere + [round(each, 1) for each in clock[:1000]]:
        assert time_stamp(created) == repr(round(created, 3)), created
