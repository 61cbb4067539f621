"""The few domain errors the data layer raises, mapped from asyncpg and OS errors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import asyncpg

__all__ = ["DatabaseUnavailable", "MigrationError", "translate_errors"]


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached, or did not answer within the configured bound."""

    code = "DATABASE_UNAVAILABLE"

    def __init__(self, message: str = "The database is unavailable; try again in a few seconds.") -> None:
        super().__init__(message)


class MigrationError(Exception):
    """The migrations on disk and those recorded in the database disagree."""


# Errors that mean "the server is gone or unreachable", not "the query is wrong".
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, no such socket, unreachable, reset
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn connection-level failures into ``DatabaseUnavailable``; let the rest through."""
    try:
        yield
    except DatabaseUnavailable:
        raise
    except _UNAVAILABLE as exc:
        raise DatabaseUnavailable() from exc
