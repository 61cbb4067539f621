"""Idempotency keys are forgotten once expired; bad input is not a connection fault."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from db.cases_write import purge_expired_keys
from db.errors import InvalidInput, translate_errors
from db.pool import open_database

from .support import app_state, service

ADD_KEYS = """
INSERT INTO idempotency_key (credential, mutation, key, input_sha256, case_id, created_at, expires_at)
SELECT 'key:test', 'caseOpen', $1 || n, sha256(n::text::bytea), (SELECT min(id) FROM "case"),
       now() + $2::text::interval - interval '1 day', now() + $2::text::interval
  FROM generate_series(1, $3) n"""


async def test_expired_keys_are_purged_in_batches(conn: asyncpg.Connection, db_dsn: str) -> None:
    await conn.execute(ADD_KEYS, "old-", "-1 hour", 5)
    await conn.execute(ADD_KEYS, "new-", "1 hour", 2)
    db = await open_database(db_dsn, max_size=1, timeout=5)
    try:
        assert await purge_expired_keys(db, batch=2) == 5
        assert db.statements == 3  # a pool turn per batch
        assert await purge_expired_keys(db) == 0
    finally:
        await db.close()
    assert await conn.fetchval("SELECT array_agg(key ORDER BY key) FROM idempotency_key") == ["new-1", "new-2"]


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(200):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not within 10 s")


async def test_the_service_purges_on_its_own_and_outlives_a_failed_purge(
    db_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A purge that fails for any reason is logged and tried again; shutdown still closes the pool."""
    conn = await asyncpg.connect(db_dsn)
    try:
        await conn.execute(ADD_KEYS, "old-", "-1 hour", 3)
        await conn.execute("ALTER TABLE idempotency_key RENAME TO idempotency_key_away")
        with service(db_dsn, LIAISON_KEY_PURGE_INTERVAL="0.05") as client:
            await until(_logged(caplog, "purging expired idempotency keys failed"))
            await conn.execute("ALTER TABLE idempotency_key_away RENAME TO idempotency_key")
            await until(_no_keys(conn))
            pool = app_state(client).db.pool
        assert pool._closed
    finally:
        await conn.close()


def _no_keys(conn: asyncpg.Connection) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await conn.fetchval("SELECT count(*) FROM idempotency_key") == 0

    return check


def _logged(caplog: pytest.LogCaptureFixture, text: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return any(text in record.getMessage() for record in caplog.records)

    return check


async def test_an_argument_asyncpg_cannot_encode_is_bad_input(conn: asyncpg.Connection) -> None:
    """asyncpg refuses it before sending anything: not an outage."""
    with pytest.raises(InvalidInput), translate_errors():
        await conn.fetchval("SELECT $1::int", 2**40)


async def test_bad_input_keeps_the_pooled_connection(db_dsn: str) -> None:
    """The connection is as good as before: not terminated as after a connection fault."""
    db = await open_database(db_dsn, max_size=1, timeout=5)
    try:
        before = (await db.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"]
        with pytest.raises(InvalidInput):
            await db.fetch("SELECT $1::int", "not a number")
        assert (await db.fetch("SELECT pg_backend_pid() AS pid"))[0]["pid"] == before
    finally:
        await db.close()
