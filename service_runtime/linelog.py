"""A line logged for every request, written without a ``LogRecord`` when only our handler would see it.

Through ``Logger.info`` a line takes the logging module's generic path (``_log``, ``makeRecord``,
``LogRecord.__init__``, ``callHandlers``, ``Handler.handle``, then the formatter): ~5-6% of a front
door's CPU for its request line.  ``LineLogger.info`` writes the same line, byte for byte
(``JsonFormatter.fields_line``), into the same ``BatchedStreamHandler``'s buffer under the same lock, so
order, batching and the flush rules hold.  It asks the logger whether the level is on (the logger's
own cache, which ``setLevel`` clears: a reload's level applies to the next line) and looks at the
handlers the record would reach on every line (a reload replaces them).

Anything else that could see or change the record sends the line down the generic path, as it was:
a filter on the logger, a record factory of someone's, a filter on a handler other than
``scrub_request_bytes`` (which changes only records with an exception or a parser error, never such a
line), a handler that is not a JSON ``BatchedStreamHandler`` (the text format, pytest's capture,
...), a disabled logger, no handler at all (logging's last resort), a field named as a record's
attribute (``makeRecord`` refuses it), or a line that fails to encode (the handler reports it).
Secret-looking fields are dropped as the formatter drops them (the same ``_kept_names``).
"""

from __future__ import annotations

import logging
import time

from service_runtime.jsonlog import BatchedStreamHandler, JsonFormatter, fields_plan, scrub_request_bytes


def direct_handlers(logger: logging.Logger, levelno: int) -> list[BatchedStreamHandler] | None:
    """The handlers a record of ``logger`` at ``levelno`` would be written by, as ``callHandlers``
    finds them; None when the record must take the generic path (see the module's docstring)."""
    if logger.filters or logger.disabled or logging.getLogRecordFactory() is not logging.LogRecord:
        return None
    found, writing = 0, []
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            found += 1
            if levelno < handler.level:
                continue  # as callHandlers: counted, not called
            if type(handler) is not BatchedStreamHandler or type(handler.formatter) is not JsonFormatter:
                return None
            for each in handler.filters:
                if each is not scrub_request_bytes:
                    return None
            writing.append(handler)
        current = current.parent if current.propagate else None
    return writing if found else None


class LineLogger:
    """``logger.info(msg, extra=fields)`` for a line logged very often, without a record when it can."""

    def __init__(self, logger: logging.Logger):
        self._logger = logger

    def info(self, msg: str, fields: dict) -> None:
        logger = self._logger
        if not logger.isEnabledFor(logging.INFO):
            return
        handlers = direct_handlers(logger, logging.INFO)
        try:
            plan = fields_plan(fields)
        except Exception:  # (a name that is not a string): the generic path reports it as it would
            plan = None
        # (a field named as a record's attribute: the generic path refuses it with makeRecord's KeyError)
        if handlers is None or plan is None or plan.names_a_record_attribute:
            logger.info(msg, extra=fields)
            return
        created = time.time()  # one time for every handler's line, as one record has
        try:
            if len(handlers) == 1:  # (a process's set-up: one handler, no list of lines to make)
                line = handlers[0].formatter.fields_line(created, logger.name, msg, fields, plan)
            else:
                lines = [handler.formatter.fields_line(created, logger.name, msg, fields, plan) for handler in handlers]
        except Exception:
            logger.info(msg, extra=fields)  # the generic path reports the failure as it would
            return
        if len(handlers) == 1:
            handlers[0].emit_line(line, logging.INFO)
            return
        for handler, line in zip(handlers, lines):
            handler.emit_line(line, logging.INFO)
