"""Errors a client causes, each with a stable code (schema/errors.py puts it in extensions)."""

from __future__ import annotations

from typing import Any

__all__ = ["BadUserInput", "check_range"]


class BadUserInput(Exception):
    """An argument is out of range, malformed or contradictory; the message says which."""

    code = "BAD_USER_INPUT"


def check_range(start: Any, before: Any, start_name: str, before_name: str) -> None:
    """Refuse a [start, before) range that is empty or inverted; either end may be absent."""
    if start is not None and before is not None and start >= before:
        raise BadUserInput(f"`{start_name}` must be earlier than `{before_name}`.")
