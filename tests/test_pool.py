"""The pool's connections kept between statements under load (``db.pool.Database``).

Statements that follow one another take the connection the last one kept instead of
asyncpg's acquire and release; an idle service holds none of them outside the pool, and a
kept connection the server dropped is replaced, not handed out.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from db.pool import Database, open_database


@pytest.fixture
async def database(db_dsn: str) -> Any:
    db = await open_database(db_dsn, max_size=3, timeout=5)
    try:
        yield db
    finally:
        await db.close()


def _count_acquires(db: Database, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    acquired = [0]
    acquire = type(db.pool).acquire

    def counting(*args: Any, **kwargs: Any) -> Any:
        acquired[0] += 1
        return acquire(*args, **kwargs)

    monkeypatch.setattr(type(db.pool), "acquire", counting)
    return acquired


async def test_statements_under_load_skip_the_pools_acquire_and_an_idle_service_keeps_none(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    acquired = _count_acquires(database, monkeypatch)
    rows = await asyncio.gather(*(database.fetch("SELECT $1::int AS n, pg_backend_pid() AS pid", n) for n in range(60)))

    assert [row[0]["n"] for row in rows] == list(range(60))
    assert len({row[0]["pid"] for row in rows}) <= 3
    assert acquired[0] <= 6, f"{acquired[0]} acquires for 60 statements on 3 connections"
    pool = database.pool
    assert pool.get_idle_size() == pool.get_size(), "every connection back in the pool once idle"
    assert database.in_use == 0


async def test_a_connection_the_server_dropped_while_kept_is_replaced(database: Database, db_dsn: str) -> None:
    async with database.connection() as held:  # a turn held: statements finishing now keep theirs
        before = await asyncio.gather(*(database.fetch("SELECT pg_backend_pid() AS pid") for _ in range(4)))
        kept = {rows[0]["pid"] for rows in before}
        admin = await asyncpg.connect(db_dsn)
        try:
            terminated = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid = ANY($1::int[])", list(kept)
            )
        finally:
            await admin.close()
        assert terminated == len(kept) >= 1
        await asyncio.sleep(0.2)  # the event loop reads each dropped connection's end

        after = await database.fetch("SELECT pg_backend_pid() AS pid")

        assert after[0]["pid"] not in kept
        assert await held.fetchval("SELECT 1") == 1
    pool = database.pool
    assert pool.get_idle_size() == pool.get_size()


async def _every_connection_back_after(cancelled: asyncio.Task[None], database: Database) -> None:
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    await asyncio.sleep(0.1)
    pool = database.pool
    assert database.in_use == 0
    assert pool.get_idle_size() == pool.get_size(), "a connection kept by an earlier statement stayed out of the pool"


async def test_the_last_turn_cancelled_while_releasing_still_returns_the_kept_connections(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request cancelled as its turn ends (it gave up, or its group's runner was stopped)
    still leaves an idle service with every connection back in the pool."""
    release = type(database.pool).release
    gate, releasing = asyncio.Event(), asyncio.Event()

    async def slow_release(pool: asyncpg.Pool, conn: asyncpg.Connection, **kwargs: Any) -> None:
        async def held_then_released() -> None:
            if not releasing.is_set():
                releasing.set()
                await gate.wait()
            await release(pool, conn, **kwargs)

        await asyncio.shield(held_then_released())  # as asyncpg's own release is shielded

    async def last_turn() -> None:
        async with database.connection():
            await database.fetch("SELECT 1")  # ends while this turn holds: its connection is kept
            monkeypatch.setattr(type(database.pool), "release", slow_release)

    task = asyncio.create_task(last_turn())
    await releasing.wait()
    task.cancel()
    gate.set()
    await _every_connection_back_after(task, database)


async def test_the_last_turn_cancelled_during_its_statement_still_returns_the_kept_connections(
    database: Database,
) -> None:
    """A request that gives up while its statement runs (a client gone, a timeout) and is
    the last turn leaves no connection kept outside the pool either."""
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await database.fetch("SELECT pg_sleep(5)")

    async with database.connection():
        task = asyncio.create_task(slow())
        await started.wait()
        await asyncio.sleep(0.2)  # its statement runs
        await database.fetch("SELECT 1")  # ends while two turns hold: its connection is kept
    assert database.in_use == 1
    task.cancel()
    await _every_connection_back_after(task, database)
