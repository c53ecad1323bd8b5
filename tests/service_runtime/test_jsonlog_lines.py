"""The exact lines of the log handler, byte for byte: keys, their order, values and levels, for the
JSON and the text format, through ``setup_logging`` as every process sets it up (a golden test: the
formatter's fast paths must not change a byte of what is logged)."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import sys
import time
from pathlib import PurePosixPath

import pytest
from aiohttp.http_exceptions import BadHttpMessage

from service_runtime.jsonlog import REQUEST_ID, setup_logging

PID = os.getpid()


class Stream(io.StringIO):
    def set_up(self, level: str = "INFO", fmt: str = "json") -> None:
        """``setup_logging`` with this stream as stderr (pytest's capture swaps sys.stderr per phase)."""
        stderr, sys.stderr = sys.stderr, self
        try:
            setup_logging("golden", level, fmt)
        finally:
            sys.stderr = stderr


@pytest.fixture
def stream():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield Stream()
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(stream: Stream) -> list[str]:
    """The lines with their time stamp replaced (the rest is compared as written)."""
    return [re.sub(r'^\{"ts":\d+(\.\d+)?,', '{"ts":T,', line) for line in stream.getvalue().splitlines()]


def log_the_lines() -> None:
    ours, library = logging.getLogger("frontdoor.golden"), logging.getLogger("aiohttp.client")
    ours.info("plain")
    ours.info("with %s and %d", "args", 7, extra={"event": "e1", "user_id": "u@x", "n": 1.5, "flag": True})
    ours.info(
        "secret-looking fields dropped",
        extra={"event": "e2", "password": "P", "session_id": "S", "token": "T", "x_cookie": "C", "kept": None},
    )
    ours.info("odd values", extra={"event": "e3", "where": PurePosixPath("/a/b"), "text": 'é "q"\n', "items": [1, "2"]})
    ours.info("a key named as a fixed one", extra={"level": "mine", "pid": "mine", "logger": "mine", "event": "e4"})
    library.warning("a library's warning", extra={"status_code": 500})
    token = REQUEST_ID.set("req-golden")
    try:
        ours.info("in a request", extra={"event": "e5"})
        ours.info("its own id kept", extra={"event": "e6", "request_id": "other"})
        library.error("library in a request")
    finally:
        REQUEST_ID.reset(token)
    library.error(
        "unparseable",
        exc_info=BadHttpMessage("Invalid method encountered:\n\nb'GET / HTTP/1.1 Cookie: AIOHTTP_SESSION=s'"),
    )
    ours.debug("below the level")


def test_json_lines_are_exactly_as_before(stream):
    stream.set_up()
    log_the_lines()
    logging.getLogger().handlers[0].flush()
    assert json_lines(stream) == [
        f'{{"ts":T,"level":"info","process":"golden","pid":{PID},"logger":"frontdoor.golden","msg":"plain","event":"log"}}',
        f'{{"ts":T,"level":"info","process":"golden","pid":{PID},"logger":"frontdoor.golden","msg":"with args and 7",'
        '"event":"e1","user_id":"u@x","n":1.5,"flag":true}',
        f'{{"ts":T,"level":"info","process":"golden","pid":{PID},"logger":"frontdoor.golden",'
        '"msg":"secret-looking fields dropped","event":"e2","kept":null}',
        f'{{"ts":T,"level":"info","process":"golden","pid":{PID},"logger":"frontdoor.golden","msg":"odd values",'
        '"event":"e3","where":"/a/b","text":"\\u00e9 \\"q\\"\\n","items":[1,"2"]}',
        '{"ts":T,"level":"mine","process":"golden","pid":"mine","logger":"mine","msg":"a key named as a fixed one",'
        '"event":"e4"}',
        f'{{"ts":T,"level":"warning","process":"golden","pid":{PID},"logger":"aiohttp.client",'
        '"msg":"a library\'s warning","status_code":500,"event":"library_log"}',
        f'{{"ts":T,"level":"info","process":"golden","pid":{PID},"logger":"frontdoor.golden","msg":"in a request",'
        '"event":"e5","request_id":"req-golden"}',
        f'{{"ts":T,"level":"info","process":"golden","pid":{PID},"logger":"frontdoor.golden","msg":"its own id kept",'
        '"event":"e6","request_id":"other"}',
        f'{{"ts":T,"level":"error","process":"golden","pid":{PID},"logger":"aiohttp.client",'
        '"msg":"library in a request","event":"library_log","request_id":"req-golden"}',
        f'{{"ts":T,"level":"error","process":"golden","pid":{PID},"logger":"aiohttp.client",'
        '"msg":"refused an unparseable request","error":"BadHttpMessage","reason":"Invalid method encountered",'
        '"status_code":400,"event":"library_log"}',
    ]


def test_the_time_stamp_is_the_records_time_in_milliseconds(stream):
    stream.set_up()
    logging.getLogger("frontdoor.golden").warning("now")
    [line] = stream.getvalue().splitlines()
    assert re.fullmatch(r'\{"ts":\d+(\.\d{1,3})?,.*', line)
    assert abs(json.loads(line)["ts"] - time.time()) < 60


def test_an_exception_is_the_last_key(stream):
    stream.set_up()
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("frontdoor.golden").exception("failed", extra={"event": "e7"})
    [line] = stream.getvalue().splitlines()
    doc = json.loads(line)
    assert list(doc) == ["ts", "level", "process", "pid", "logger", "msg", "event", "exception"]
    assert doc["exception"].startswith("Traceback (most recent call last):") and doc["exception"].endswith(
        "ValueError: boom"
    )


def test_text_lines_are_exactly_as_before(stream):
    stream.set_up("INFO", "text")
    log_the_lines()
    logging.getLogger().handlers[0].flush()
    lines = [re.sub(r"^\d\d:\d\d:\d\d ", "HH:MM:SS ", line) for line in stream.getvalue().splitlines()]
    assert lines == [
        "HH:MM:SS INFO    golden: plain event=log",
        "HH:MM:SS INFO    golden: with args and 7 event=e1 user_id=u@x n=1.5 flag=True",
        "HH:MM:SS INFO    golden: secret-looking fields dropped event=e2 kept=None",
        'HH:MM:SS INFO    golden: odd values event=e3 where=/a/b text=é "q"',
        " items=[1, '2']",
        "HH:MM:SS INFO    golden: a key named as a fixed one level=mine pid=mine logger=mine event=e4",
        "HH:MM:SS WARNING golden: a library's warning status_code=500 event=library_log",
        "HH:MM:SS INFO    golden: in a request event=e5 request_id=req-golden",
        "HH:MM:SS INFO    golden: its own id kept event=e6 request_id=other",
        "HH:MM:SS ERROR   golden: library in a request event=library_log request_id=req-golden",
        "HH:MM:SS ERROR   golden: refused an unparseable request error=BadHttpMessage reason=Invalid method encountered "
        "status_code=400 event=library_log",
    ]


def test_a_new_set_up_applies_its_level_and_format_to_the_next_line(stream):
    stream.set_up()
    logging.getLogger("frontdoor.golden").warning("as json")
    stream.set_up("WARNING", "text")  # what a reload does with a changed [runtime]
    logging.getLogger("frontdoor.golden").info("dropped")
    logging.getLogger("frontdoor.golden").warning("as text")
    stream.set_up("INFO", "json")
    logging.getLogger("frontdoor.golden").warning("json again")
    lines = stream.getvalue().splitlines()
    assert [line[:7] for line in lines] == ['{"ts":1', lines[1][:7], '{"ts":1']
    assert re.fullmatch(r"\d\d:\d\d:\d\d WARNING golden: as text event=log", lines[1])
    assert json.loads(lines[0])["msg"] == "as json" and json.loads(lines[2])["msg"] == "json again"


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text")


def test_a_line_that_cannot_be_encoded_leaves_the_next_lines_intact(stream, monkeypatch):
    monkeypatch.setattr(logging, "raiseExceptions", False)  # the handler's error report: not this test's
    stream.set_up()
    shared = [Unprintable()]
    logging.getLogger("frontdoor.golden").info("lost", extra={"items": shared})
    shared[:] = [1]  # the same list, now encodable: not a circular reference
    logging.getLogger("frontdoor.golden").info("kept", extra={"items": shared})
    logging.getLogger().handlers[0].flush()
    assert [json.loads(line)["items"] for line in stream.getvalue().splitlines()] == [[1]]


def test_a_forked_childs_lines_carry_its_own_pid(stream):
    stream.set_up()
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the child: its line, formatted by the handler it inherited, into the pipe
        try:
            record = logging.getLogger("frontdoor.golden").makeRecord(
                "frontdoor.golden", logging.INFO, "", 0, "x", (), None
            )
            os.write(write_end, logging.getLogger().handlers[0].format(record).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        line = pipe.read()
    os.waitpid(child, 0)
    assert json.loads(line)["pid"] == child != os.getpid()
