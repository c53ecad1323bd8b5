"""Structured logs: one JSON object per line (or a readable line for a terminal).

Callers pass context with ``extra={"event": ..., "user_id": ..., ...}``.  Secrets never go in: the
formatter drops any field whose name looks like one, as a second line of defence, and a filter takes
the raw request bytes out of aiohttp's parser errors (``scrub_request_bytes``).  The id of the
request being served (``REQUEST_ID``, a context variable) is added to every line logged while serving
it, in whichever process that is: it travels in the ZeroMQ items to the signers and the daemon.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextvars import ContextVar

_FORBIDDEN_FIELDS = {"session_id", "token"}
_FORBIDDEN_PARTS = ("password", "secret", "signature", "authorization", "cookie")
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_OUR_PACKAGES = ("frontdoor", "signer_worker", "session_daemon", "contract", "webui_host", "devstack")
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


def _allowed(key: str) -> bool:
    lowered = key.lower()
    return lowered not in _FORBIDDEN_FIELDS and not any(part in lowered for part in _FORBIDDEN_PARTS)


def _context(record: logging.LogRecord) -> dict:
    context = {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRS and _allowed(key)}
    # Lines from libraries (aiohttp, redis, ...) carry no event of ours; name them so every line has one.
    context.setdefault("event", "library_log" if not record.name.startswith(_OUR_PACKAGES) else "log")
    request_id = REQUEST_ID.get()
    if request_id and "request_id" not in context:
        context["request_id"] = request_id
    return context


class JsonFormatter(logging.Formatter):
    def __init__(self, process_role: str):
        super().__init__()
        self._role = process_role

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "process": self._role,
            "pid": record.process,
            "logger": record.name,
            "msg": record.getMessage(),
            **_context(record),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, default=str, separators=(",", ":"))


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


def setup_logging(process_role: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(scrub_request_bytes)  # on the handler: it sees records of every logger
    handler.setFormatter(JsonFormatter(process_role) if fmt == "json" else TextFormatter(process_role))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
