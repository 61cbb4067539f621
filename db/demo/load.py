"""Load the demo dataset into a migrated, empty database: COPY per table, one transaction.

The generator chooses every id itself and COPY writes identity columns as given (like
INSERT … OVERRIDING SYSTEM VALUE), so no id has to be read back; the identity sequences are
moved past the loaded ids at the end. A transaction-level advisory lock makes a second
process that starts at the same time wait, then find the data there and do nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterator
from typing import TypeVar

import asyncpg

from ..errors import translate_errors
from .dataset import COLUMNS, stream
from .network import NAMED_POINTS
from .plan import PUDONG, SEED

__all__ = ["DemoConflict", "demo_is_loaded", "load_demo", "read_ahead"]

T = TypeVar("T")

# Not the migrations' key: "liaisd" in ASCII.
LOCK_KEY = 0x6C6961697364

TABLES = tuple(COLUMNS)
IDENTITY_TABLES = tuple(t for t in TABLES if "id" in COLUMNS[t])

LOCK = "SELECT pg_advisory_xact_lock($1)"
HAS_CONTACT_POINTS = "SELECT EXISTS (SELECT 1 FROM contact_point)"
OCCUPIED = "SELECT array_remove(ARRAY[{}], NULL)".format(
    ", ".join(f"""CASE WHEN EXISTS (SELECT 1 FROM "{t}") THEN '{t}' END""" for t in TABLES)
)
RESET_IDENTITIES = "SELECT {}".format(
    ", ".join(
        f"""setval(pg_get_serial_sequence('"{t}"', 'id'), (SELECT max(id) FROM "{t}"))""" for t in IDENTITY_TABLES
    )
)
# Fresh statistics, so the first queries after a load are planned for its volume.
ANALYZE = "ANALYZE " + ", ".join(f'"{t}"' for t in TABLES)
# The first named point is the demo's own mark: the first code of Pudong.
MARKER = "SELECT EXISTS (SELECT 1 FROM contact_point WHERE code = $1 AND name = $2)"
MARKER_ARGS = (f"CP{PUDONG}-00001", NAMED_POINTS[PUDONG][0][0])


class DemoConflict(Exception):
    """The database has no contact points but other rows the demo would collide with."""


async def demo_is_loaded(conn: asyncpg.Connection) -> bool:
    """Whether this database holds the demo dataset (checked by its first named point)."""
    with translate_errors():
        return bool(await conn.fetchval(MARKER, *MARKER_ARGS))


async def load_demo(conn: asyncpg.Connection, seed: int = SEED) -> bool:
    """Load the demo into a database without contact points; False if they were there already."""
    with translate_errors():
        async with conn.transaction():
            await conn.execute(LOCK, LOCK_KEY)
            if await conn.fetchval(HAS_CONTACT_POINTS):
                return False
            occupied = await conn.fetchval(OCCUPIED)
            if occupied:
                raise DemoConflict(
                    f"the database has no contact points but rows in {', '.join(occupied)}: "
                    "load the demo only into an empty, migrated database"
                )
            async with contextlib.aclosing(read_ahead(stream(seed))) as tables:
                async for table, rows in tables:
                    if rows:
                        await conn.copy_records_to_table(table, records=rows, columns=list(COLUMNS[table]))
            await conn.execute(RESET_IDENTITIES)
            await conn.execute(ANALYZE)
            return True


async def read_ahead(items: Iterator[T]) -> AsyncGenerator[T, None]:
    """Draw each next item in a worker thread while the caller copies the current one: the
    generator's Python and the server's COPY then run on two cores instead of taking turns.
    Close it (``contextlib.aclosing``) so that no draw outlives the caller."""
    done = object()
    pending = asyncio.ensure_future(asyncio.to_thread(next, items, done))
    try:
        while (item := await pending) is not done:
            pending = asyncio.ensure_future(asyncio.to_thread(next, items, done))
            yield item  # type: ignore[misc]
    finally:
        if not pending.done():
            await asyncio.wait([pending])
        if not pending.cancelled():
            pending.exception()  # retrieved: the caller's own error is the one to report
