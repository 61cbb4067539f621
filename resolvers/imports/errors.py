"""The refusal of a whole file: a stable code and a line a person can act on."""

from __future__ import annotations

__all__ = ["ImportRefused"]


class ImportRefused(Exception):
    """The file cannot be imported at all (unreadable, wrong columns, rows refused on apply)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
