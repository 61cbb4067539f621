"""Idempotency keys are forgotten once expired, and the database's refusals keep their meaning."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from db.cases_write import purge_expired_keys
from db.errors import InvalidInput, translate_errors

from .support import service

ADD_KEYS = """
INSERT INTO idempotency_key (credential, mutation, key, input_sha256, case_id, created_at, expires_at)
SELECT 'key:test', 'caseOpen', $1 || n, sha256(n::text::bytea), (SELECT min(id) FROM "case"),
       now() + $2::text::interval - interval '1 day', now() + $2::text::interval
  FROM generate_series(1, $3) n"""


async def test_expired_keys_are_purged_in_batches(conn: asyncpg.Connection) -> None:
    await conn.execute(ADD_KEYS, "old-", "-1 hour", 5)
    await conn.execute(ADD_KEYS, "new-", "1 hour", 2)
    assert await purge_expired_keys(conn, batch=2) == 5
    assert await conn.fetchval("SELECT array_agg(key ORDER BY key) FROM idempotency_key") == ["new-1", "new-2"]
    assert await purge_expired_keys(conn) == 0


async def test_the_service_purges_on_its_own(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        await conn.execute(ADD_KEYS, "old-", "-1 hour", 3)
        with service(db_dsn, LIAISON_KEY_PURGE_INTERVAL="0.05"):
            for _ in range(200):
                if await conn.fetchval("SELECT count(*) FROM idempotency_key") == 0:
                    break
                await asyncio.sleep(0.05)
        assert await conn.fetchval("SELECT count(*) FROM idempotency_key") == 0
    finally:
        await conn.close()


async def test_an_argument_the_client_cannot_encode_is_bad_input(conn: asyncpg.Connection) -> None:
    """asyncpg's own DataError is an InterfaceError: it must not read as an outage."""
    with pytest.raises(InvalidInput), translate_errors():
        await conn.fetchval("SELECT $1::int", "not a number")
