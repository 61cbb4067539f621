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
    "StatementCancelled",
    "WriteConflict",
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


class WriteConflict(Exception):
    """PostgreSQL rolled the transaction back to break a deadlock or a serialization
    conflict with another one (SQLSTATE class 40), or a lock it needed was not to be had:
    nothing was written, and the same request succeeds when retried."""

    code = "WRITE_CONFLICT"

    def __init__(self) -> None:
        super().__init__(
            "The database rolled this write back because of a conflict with another one; nothing was written."
            " Retry it (with the same idempotency key)."
        )


class StatementCancelled(DatabaseUnavailable):
    """PostgreSQL cancelled a statement: it outlived ``statement_timeout``, or an operator
    cancelled it. A kind of ``DatabaseUnavailable`` (no answer within the bound, try again),
    with its own code; nothing the statement would have written was kept."""

    code = "STATEMENT_CANCELLED"

    def __init__(self) -> None:
        super().__init__(
            "The database cancelled this request's statement: it ran too long, or an operator stopped it."
            " Nothing it would have written was kept; try again."
        )


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


# Rolled back by PostgreSQL with nothing written, so a retry is safe: a serialization
# failure, a deadlock, a lock not to be had. (Not all of class 40: 40003 means the outcome
# is unknown.)
_CONFLICTS = (
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.LockNotAvailableError,
)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    """Turn connection-level failures into ``DatabaseUnavailable``; let the rest through."""
    try:
        yield
    except DatabaseUnavailable:
        raise
    except asyncpg.exceptions.DataError as exc:
        # The server's class 22, and asyncpg's own refusal to encode an argument (it
        # raises the same class): the input's fault either way.
        raise InvalidInput() from exc
    except _CONFLICTS as exc:
        raise WriteConflict() from exc
    except asyncpg.exceptions.QueryCanceledError as exc:
        raise StatementCancelled() from exc
    except UNAVAILABLE_ERRORS as exc:
        raise DatabaseUnavailable() from exc
