"""Structured logs: one JSON object per line (or a readable line for a terminal).

Callers pass context with ``extra={"event": ..., "user_id": ..., ...}``.  Secrets never go in: the
formatter drops any field whose name looks like one, as a second line of defence.  The id of the
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


def setup_logging(process_role: str, level: str = "INFO", fmt: str = "json") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process_role) if fmt == "json" else TextFormatter(process_role))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
