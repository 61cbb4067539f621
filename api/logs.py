"""The process's log format: one JSON object per line (the default), or text for people.

Set once by the ``liaison`` command (``LIAISON_LOG_FORMAT``); uvicorn is told not to set
up logging of its own, so its lines come out in the same format.
"""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

__all__ = ["FORMATS", "configure_logging"]

FORMATS = ("json", "text")

_TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_NOT_FIELDS = [*RESERVED_ATTRS, "color_message"]
"""A record's own attributes, and uvicorn's copy of its message with terminal colours."""


class _TextFormatter(logging.Formatter):
    """Text with a record's extra fields (the access line's) after the message, as key=value."""

    def format(self, record: logging.LogRecord) -> str:
        fields = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in _NOT_FIELDS)
        line = super().format(record)
        return f"{line} {fields}" if fields else line


def configure_logging(log_format: str, level: int = logging.INFO) -> None:
    """Send every logger's records to stderr in ``log_format``; extra fields of a record
    (the access line's) become keys of its JSON object."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(
            JsonFormatter(
                "{levelname}{name}{message}",
                style="{",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",
                reserved_attrs=_NOT_FIELDS,
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(_TextFormatter(_TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
