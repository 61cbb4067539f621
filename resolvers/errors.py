"""Errors a client causes, each with a stable code (schema/errors.py puts it in extensions)."""

from __future__ import annotations

__all__ = ["BadUserInput"]


class BadUserInput(Exception):
    """An argument is out of range, malformed or contradictory; the message says which."""

    code = "BAD_USER_INPUT"
