"""The few domain errors the data layer raises, mapped from asyncpg and OS errors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import asyncpg

__all__ = [
    "UNAVAILABLE_ERRORS",
    "DatabaseUnavailable",
    "InvalidInput",
    "MigrationError",
    "PoolSaturated",
    "translate_errors",
]


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached, or did not answer within the configured bound."""

    code = "DATABASE_UNAVAILABLE"

    def __init__(self, message: str = "The database is unavailable; try again in a few seconds.") -> None:
        super().__init__(message)


class PoolSaturated(DatabaseUnavailable):
    """Every pool connection stayed in use, on a database that answers, for the whole bound.

    A kind of ``DatabaseUnavailable`` (this request gets no database either) with its own
    code, so that clients and operators see load, not an outage."""

    code = "SERVICE_OVERLOADED"

    def __init__(self) -> None:
        super().__init__("The service is busy: every database connection is in use. Try again in a moment.")


class InvalidInput(Exception):
    """A value the database refuses (SQLSTATE class 22: a NUL character, a number out of range)."""

    code = "BAD_USER_INPUT"

    def __init__(self) -> None:
        super().__init__("An argument holds a value the database cannot take (a NUL character, a number out of range).")


class MigrationError(Exception):
    """The migrations on disk and those recorded in the database disagree."""


# Errors that mean "the server is gone or unreachable", not "the query is wrong".
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, no such socket, unreachable, reset
    asyncio.TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    # A connection whose server died mid-statement can be left in an impossible state.
    asyncpg.exceptions.InternalClientError,
)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn connection-level failures into ``DatabaseUnavailable``; let the rest through."""
    try:
        yield
    except DatabaseUnavailable:
        raise
    except asyncpg.exceptions.DataError as exc:
        raise InvalidInput() from exc
    except UNAVAILABLE_ERRORS as exc:
        raise DatabaseUnavailable() from exc
