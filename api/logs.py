"""The process's log format: one JSON object per line (the default), or text for people.

Set once by the ``liaison`` command (``LIAISON_LOG_FORMAT``); uvicorn is told not to set
up logging of its own, so its lines come out in the same format. A record's extra fields
(the access line's, ``api.telemetry``) become keys of its object, or ``key=value`` after
the text.

The access line, one per request, is written by ``log_fields``: straight to stderr when
the JSON handler set up here is the only place it would go, the same line that logging
would write at a third of the cost.
"""

from __future__ import annotations

import datetime
import logging
import os
import sys
from typing import Any

import orjson

__all__ = ["FORMATS", "JsonLines", "JsonStderr", "configure_logging", "log_fields"]

FORMATS = ("json", "text")

_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_NOT_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}
"""A record's own attributes, and uvicorn's copy of its message with terminal colours."""


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    return {key: value for key, value in vars(record).items() if key not in _NOT_FIELDS}


class JsonLines(logging.Formatter):
    """One JSON object per record: time (ISO 8601, UTC), level, logger, message, extra
    fields, and a traceback as ``exc_info``. Written with orjson: python-json-logger's
    formatter took 84 µs a line here and this one 35 to 41 (timeit, on a busy machine), where a
    compiled request served by the fast lane costs about 450 µs of CPU in all."""

    def format(self, record: logging.LogRecord) -> str:
        created = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
        line = _json_line(created, record.levelname, record.name, record.getMessage(), _fields(record))
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def _json_line(
    time: datetime.datetime, level: str, logger: str, message: str, fields: dict[str, Any]
) -> dict[str, Any]:
    return {"time": time.isoformat(), "level": level, "logger": logger, "message": message, **fields}


class JsonStderr(logging.StreamHandler):
    """``configure_logging``'s handler in the JSON format: ``JsonLines`` to stderr."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(JsonLines())

    def write_fields(self, logger: str, message: str, fields: dict[str, Any]) -> None:
        """The INFO line ``emit`` writes for ``message`` and these extra fields, written at once:
        one ``os.write`` of a line built here, without a record, the formatter or the text stream."""
        line = _json_line(datetime.datetime.now(datetime.UTC), "INFO", logger, message, fields)
        data = orjson.dumps(line, default=str) + b"\n"
        with self.lock:  # type: ignore[union-attr]  # (set by Handler.__init__) between other threads' records
            try:
                descriptor = self.stream.fileno()
            except (OSError, ValueError):  # a stream without a descriptor (a test's capture)
                self.stream.write(data.decode())
                self.flush()
                return
            while data:
                data = data[os.write(descriptor, data) :]


def log_fields(logger: logging.Logger, message: str, fields: dict[str, Any]) -> None:
    """``logger.info(message, extra=fields)``, written straight to stderr when that is where
    logging would write it: a request's access line through logging cost 40 µs of CPU in a
    known compiled request of 260 µs (in process, bench/RESULTS.md), and 13 µs written here.
    Through the logger when anything else would see it: the text format, a filter, another
    handler (pytest's caplog, an embedding application's own)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    handler = _sole_json_handler(logger)
    if handler is None:
        logger.info(message, extra=fields)
    else:
        handler.write_fields(logger.name, message, fields)


def _sole_json_handler(logger: logging.Logger) -> JsonStderr | None:
    """The handler every INFO record of ``logger`` goes to, when it is the only one, has no
    filter and is ``JsonStderr``; else None."""
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        if current.parent is None or not current.propagate:  # the last logger to hand records on
            handlers = current.handlers
            if len(handlers) == 1 and type(handlers[0]) is JsonStderr:
                handler = handlers[0]
                return handler if handler.level <= logging.INFO and not handler.filters else None
            return None
        if current.handlers:
            return None
        current = current.parent
    return None


class _Text(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{key}={value}" for key, value in _fields(record).items())
        return f"{line} {fields}" if fields else line


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send every logger's records to stderr in ``log_format``.

    Records are made without what neither format writes (thread, process, the caller's
    file and line), as the logging HOWTO's "Optimization" section says: a record per request
    then costs a few microseconds less."""
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    logging._srcfile = None  # no frame walk for the caller: the HOWTO's way to turn it off
    if log_format == "json":
        handler: logging.Handler = JsonStderr()
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Text(_TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
