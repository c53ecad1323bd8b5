"""Structured logs: one JSON object per line (or a readable line for a terminal).

Callers pass context with ``extra={"event": ..., "user_id": ..., ...}``.  Secrets never go in: the
formatter drops any field whose name looks like one, as a second line of defence.
"""

from __future__ import annotations

import json
import logging
import sys
import time

_FORBIDDEN_FIELDS = {"password", "secret_key", "signature", "authorization", "cookie", "session_id", "token"}
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


def _context(record: logging.LogRecord) -> dict:
    return {
        key: value
        for key, value in vars(record).items()
        if key not in _STANDARD_ATTRS and key.lower() not in _FORBIDDEN_FIELDS
    }


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
