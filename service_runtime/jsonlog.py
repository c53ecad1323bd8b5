"""Structured logs: one JSON object per line (or a readable line for a terminal).

Callers pass context with ``extra={"event": ..., "user_id": ..., ...}``.  Secrets never go in: the
formatter drops any field whose name looks like one, as a second line of defence, and a filter takes
the raw request bytes out of aiohttp's parser errors (``scrub_request_bytes``).  The id of the
request being served (``REQUEST_ID``, a context variable) is added to every line logged while serving
it, in whichever process that is: it travels in the ZeroMQ items to the signers and the daemon.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import sys
import time
from contextvars import ContextVar
from typing import NamedTuple

_FORBIDDEN_FIELDS = {"session_id", "token"}
_FORBIDDEN_PARTS = ("password", "secret", "signature", "authorization", "cookie")
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_OUR_PACKAGES = ("frontdoor", "signer_worker", "session_daemon", "contract", "webui_host", "devstack")
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
_ENCODER = json.JSONEncoder(default=str, separators=(",", ":"))  # made once, not per line


def _c_encoder():
    """The C encoder ``_ENCODER.encode`` would make for every line (``JSONEncoder.iterencode`` builds one
    per call), made once; None without the C accelerator."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    e = _ENCODER  # ensure_ascii, no indent: the arguments its iterencode passes
    args = (e.default, json.encoder.encode_basestring_ascii, None, e.key_separator, e.item_separator)
    return make({}, *args, e.sort_keys, e.skipkeys, e.allow_nan)  # {}: markers, as check_circular has them


_c_encode = _c_encoder()


def _encode(doc: dict) -> str:
    """``_ENCODER.encode(doc)``, byte for byte, without making an encoder per line."""
    global _c_encode
    if _c_encode is None:
        return _ENCODER.encode(doc)
    try:
        return "".join(_c_encode(doc, 0))
    except Exception:
        _c_encode = _c_encoder()  # a failed line may leave markers behind: the next starts clean
        raise


def _allowed(key: str) -> bool:
    lowered = key.lower()
    return lowered not in _FORBIDDEN_FIELDS and not any(part in lowered for part in _FORBIDDEN_PARTS)


_kept_keys: dict[str, bool] = {}  # attribute name -> whether it goes in the line (bounded below)


def _kept(key: str) -> bool:
    kept = _kept_keys.get(key)
    if kept is None:
        kept = key not in _STANDARD_ATTRS and _allowed(key)
        if len(_kept_keys) < 4096:  # extra keys are named in code; a bound all the same
            _kept_keys[key] = kept
    return kept


# A record's attribute names, in order -> those that go in its line.  Every line of one call site has
# the same names (LogRecord's ~20, then the call's ``extra``), so a line looks its keys up once, not
# each of its ~28 attributes one by one.
_kept_of_names: dict[tuple[str, ...], tuple[str, ...]] = {}


def _kept_names(attributes: dict) -> tuple[str, ...]:
    names = tuple(attributes)
    kept = _kept_of_names.get(names)
    if kept is None:
        kept = tuple(key for key in names if _kept(key))
        if len(_kept_of_names) < 1024:  # call sites are bounded; a bound all the same
            _kept_of_names[names] = kept
    return kept


def _default_event(logger_name: str) -> str:
    # Lines from libraries (aiohttp, redis, ...) carry no event of ours; name them so every line has one.
    return "library_log" if not logger_name.startswith(_OUR_PACKAGES) else "log"


def _context(record: logging.LogRecord) -> dict:
    attributes = vars(record)
    context = {key: attributes[key] for key in _kept_names(attributes)}
    if "event" not in context:
        context["event"] = _default_event(record.name)
    request_id = REQUEST_ID.get()
    if request_id and "request_id" not in context:
        context["request_id"] = request_id
    return context


class JsonFormatter(logging.Formatter):
    def __init__(self, process_role: str):
        super().__init__()
        self._role = process_role
        self._middles: dict[tuple[int, str, str], str] = {}  # see ``fields_line``

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "process": self._role,
            "pid": _pid if record.process is None else record.process,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        _add_context(doc, vars(record), record.name)
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return _encode(doc)

    def fields_line(
        self, created: float, logger_name: str, msg: str, fields: dict, plan: FieldsPlan | None = None
    ) -> str:
        """The line ``format`` makes of an INFO record of ``logger_name`` created at ``created``
        (``time.time()``, as LogRecord takes it) with ``msg`` (no arguments), ``fields`` as its
        ``extra`` and no exception, made without the record (``plan``: ``fields_plan(fields)``, when
        the caller has it already).

        The fixed keys between the time stamp and the fields are the same for every line of a call
        site: encoded once and spliced in, unless a field is named as one of them (it takes its place)."""
        if plan is None:
            plan = fields_plan(fields)
        if plan.names_a_fixed_key:
            doc = self._fixed(created, logger_name, msg)
            _add_context(doc, fields, logger_name)
            return _encode(doc)
        if plan.complete and (plan.has_request_id or not REQUEST_ID.get()):
            context = fields  # the line's own fields as they are (the common case): no copy
        else:
            context = {}
            _add_context(context, fields, logger_name)
        middle = self._middles.get((_pid, logger_name, msg))
        if middle is None:
            middle = "," + _encode(self._fixed(0.0, logger_name, msg))[len('{"ts":0.0,') : -1] + ","
            if len(self._middles) < 256:  # (pid, logger, message) of the call sites: bounded all the same
                self._middles[(_pid, logger_name, msg)] = middle
        return '{"ts":' + time_stamp(created) + middle + _encode(context)[1:]

    def _fixed(self, created: float, logger_name: str, msg: str) -> dict:
        level = logging.getLevelName(logging.INFO).lower()
        return {
            "ts": round(created, 3),
            "level": level,
            "process": self._role,
            "pid": _pid,
            "logger": logger_name,
            "msg": msg,
        }


_FIXED_KEYS = frozenset(("ts", "level", "process", "pid", "logger", "msg"))
# Names ``makeRecord`` refuses in ``extra`` (KeyError): a line with one must take the generic path.
_RECORD_NAMES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class FieldsPlan(NamedTuple):
    """What a line needs to know of its fields' names, the same for every line of a call site."""

    kept: tuple[str, ...]  # the names that go in a line
    complete: bool  # all of them go, an ``event`` among them: the fields are the line's context as they are
    has_request_id: bool
    names_a_fixed_key: bool  # a field takes the place of ``ts``, ``level``, ...
    names_a_record_attribute: bool  # ``makeRecord`` would refuse the fields as ``extra``


_plans: dict[tuple[str, ...], FieldsPlan] = {}


def fields_plan(fields: dict) -> FieldsPlan:
    """The plan of a line with ``fields``, made once per set of names (one per call site)."""
    names = tuple(fields)
    plan = _plans.get(names)
    if plan is None:
        kept = _kept_names(fields)
        plan = FieldsPlan(
            kept,
            kept == names and "event" in kept,
            "request_id" in kept,
            not _FIXED_KEYS.isdisjoint(kept),
            not _RECORD_NAMES.isdisjoint(names),
        )
        if len(_plans) < 1024:  # call sites are bounded; a bound all the same
            _plans[names] = plan
    return plan


def time_stamp(created: float) -> str:
    """``repr(round(created, 3))`` (the ``ts`` of a line), at a third of its cost for a clock time.

    ``round`` and ``:.3f`` both round through the same correctly rounded conversion (``_Py_dg_dtoa``,
    three digits after the point), and for a number below 1e12 that decimal has at most 15 significant
    digits, so it is the shortest string that reads back as the rounded float: ``repr``'s string once
    its trailing zeros are dropped (one kept after the point).  Anything else takes ``repr(round())``."""
    if not 0.0 <= created < 1e12:
        return float.__repr__(round(created, 3))
    text = f"{created:.3f}".rstrip("0")
    return text + "0" if text[-1] == "." else text


def _add_context(doc: dict, attributes: dict, logger_name: str) -> None:
    """The kept attributes after the fixed keys, as ``{**fixed, **context}`` would place them (a key
    named as a fixed one takes its value and keeps its place), written into ``doc``: no second dict."""
    kept = _kept_names(attributes)
    for key in kept:
        doc[key] = attributes[key]
    if "event" not in kept:
        doc["event"] = _default_event(logger_name)
    request_id = REQUEST_ID.get()
    if request_id and "request_id" not in kept:
        doc["request_id"] = request_id


class TextFormatter(logging.Formatter):
    def __init__(self, process_role: str):
        super().__init__()
        self._role = process_role

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        context = " ".join(f"{k}={v}" for k, v in _context(record).items())
        line = f"{stamp} {record.levelname:<7} {self._role}: {record.getMessage()} {context}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _processing_error_class() -> type[Exception] | None:
    """aiohttp's parser error class once aiohttp is loaded: a process that never loaded it (a signer)
    has no such error to scrub, and need not load aiohttp (~13 MiB, ~0.2 s) for this filter."""
    module = sys.modules.get("aiohttp.http_exceptions")
    return getattr(module, "HttpProcessingError", None)


def _parser_error(record: logging.LogRecord):
    """The HTTP parser error a record carries (as its exception, a cause of it, or an argument)."""
    HttpProcessingError = _processing_error_class()  # noqa: N806 - the class, under its own name
    if HttpProcessingError is None:
        return None
    exc = record.exc_info[1] if record.exc_info else None
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, HttpProcessingError):
            return exc
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    for value in (record.msg, *(record.args if isinstance(record.args, tuple) else ())):
        if isinstance(value, HttpProcessingError):
            return value
    return None


def _short_reason(exc) -> str:
    """The parser's complaint without the bytes it quotes: its first line, up to the first quote or colon."""
    lines = (exc.message or "").strip().splitlines()
    first = lines[0] if lines else ""
    for stop in (": b'", ': b"', "'", '"', ":"):
        first = first.split(stop, 1)[0]
    return first.strip()[:80]


def scrub_request_bytes(record: logging.LogRecord) -> bool:
    """A logging filter: aiohttp's parser errors quote the raw request (session cookie included) in
    their message and traceback; such a record keeps its line, the error's class and a short reason."""
    exc = _parser_error(record)
    if exc is not None:
        record.msg, record.args = "refused an unparseable request", ()
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        record.error, record.reason, record.status_code = type(exc).__name__, _short_reason(exc), exc.code
    return True


class BatchedStreamHandler(logging.StreamHandler):
    """A stream handler that writes the lines logged from an event loop in batches, at most
    ``FLUSH_DELAY`` seconds after the first line of a batch.

    Every process's stderr is a pipe that supervisord reads: each write wakes supervisord, whose
    Python loop then costs more CPU than the line itself (~0.12 ms per request at c=1 when every loop
    turn wrote its lines).  Here a line is formatted at once (so it carries the context of the moment)
    and buffered; a timer of the running loop writes the buffer ``FLUSH_DELAY`` after its first line, in
    one write, so a busy process writes ~20 times a second whatever its request rate.  Lines stay in
    order.  Written at once: a line at ``WARNING`` and above (with the lines before it), any line
    logged outside a loop (start-up, another thread), a buffer past ``MAX_BUFFERED`` characters; and
    whatever is buffered at the process's exit (``flush_logs``: atexit, the skeleton's clean exit) and
    before a fork.  What a ``kill -9`` loses is at most ``FLUSH_DELAY`` of INFO lines.
    """

    FLUSH_DELAY = 0.05  # seconds
    MAX_BUFFERED = 64 * 1024  # characters (a pipe's default capacity)

    def __init__(self, stream=None):
        super().__init__(stream)
        self._buffered: list[str] = []
        self._size = 0
        self._timer_on: asyncio.AbstractEventLoop | None = None  # the loop whose timer will write

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + self.terminator
        except Exception:
            self.handleError(record)
            return
        self._buffer(line, record.levelno)

    def emit_line(self, line: str, levelno: int) -> None:
        """A line formatted without a record (``linelog``), buffered as ``emit`` buffers a record's,
        under the lock ``handle`` takes around ``emit``."""
        with self.lock:
            self._buffer(line + self.terminator, levelno)

    def _buffer(self, line: str, levelno: int) -> None:
        self._buffered.append(line)
        self._size += len(line)
        if levelno >= logging.WARNING or self._size >= self.MAX_BUFFERED or not self._timer_set():
            self.flush()

    def _timer_set(self) -> bool:
        """Whether a timer of the running loop will write the buffer (arranged now or already)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop in this thread
            return False
        if self._timer_on is loop:
            return True  # (a flush since then left the timer set: it writes what came after)
        if self._timer_on is not None:
            return False  # another loop's timer, which may never fire (that loop ended): write now
        loop.call_later(self.FLUSH_DELAY, self._timer_fired)
        self._timer_on = loop
        return True

    def _timer_fired(self) -> None:
        self._timer_on = None
        self.flush()

    def flush(self) -> None:
        self.acquire()
        try:
            if self._timer_on is not None and self._timer_on.is_closed():
                self._timer_on = None  # its timer will never fire
            if self._buffered:
                text, self._buffered, self._size = "".join(self._buffered), [], 0
                self.stream.write(text)
            super().flush()
        except Exception:  # a closed or broken stream must not break the loop's timer
            self._buffered, self._size = [], 0
        finally:
            self.release()


def flush_logs() -> None:
    """Write every buffered line now (at exit, before a fork)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


# logging's own atexit hook flushes every handler too; this one also covers a handler set up after
# logging.shutdown's list was taken.  Before a fork: the child must not inherit (and write twice) lines.
atexit.register(flush_logs)
os.register_at_fork(before=flush_logs)

# The pid of the lines: asked once per process (and again in a forked child), not once per record as
# the logging module does (a system call each: glibc does not cache getpid).
_pid = os.getpid()


def _note_pid() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_note_pid)


def setup_logging(process_role: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = BatchedStreamHandler(sys.stderr)
    handler.addFilter(scrub_request_bytes)  # on the handler: it sees records of every logger
    handler.setFormatter(JsonFormatter(process_role) if fmt == "json" else TextFormatter(process_role))
    # Neither format shows the caller's file and line, the thread or the process name, and the JSON
    # format takes the pid from ``_pid``: the logging module need not find them for every record (its
    # documented optimisations).
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for old in root.handlers:
        old.flush()  # lines of the previous set-up go out before any of this one's
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
