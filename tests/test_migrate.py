"""Migrations: applied once, in order, safely under concurrent starters, never edited."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from db.errors import MigrationError
from db.migrate import Migration, load_migrations, migrate

SLOW_FIRST = [
    # Slow enough that two unlocked starters would both see it pending and collide.
    Migration("0001_slow.sql", "SELECT pg_sleep(0.5); CREATE TABLE once (id int);"),
    Migration("0002_next.sql", "INSERT INTO once VALUES (1);"),
]


async def ledger(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        return [r["name"] for r in await conn.fetch("SELECT name FROM schema_migration ORDER BY applied_at, name")]
    finally:
        await conn.close()


async def test_real_migrations_apply_in_order_then_are_noops(empty_dsn: str) -> None:
    names = [m.name for m in load_migrations()]
    assert names == sorted(names) and names
    assert await migrate(empty_dsn) == names
    assert await migrate(empty_dsn) == []
    assert await ledger(empty_dsn) == names


async def test_two_concurrent_starters_apply_each_file_once(empty_dsn: str) -> None:
    results = await asyncio.gather(migrate(empty_dsn, SLOW_FIRST), migrate(empty_dsn, SLOW_FIRST))
    assert sorted(results, key=len) == [[], ["0001_slow.sql", "0002_next.sql"]]
    conn = await asyncpg.connect(empty_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM once") == 1
    finally:
        await conn.close()


async def test_an_edited_applied_migration_is_refused(empty_dsn: str) -> None:
    await migrate(empty_dsn, SLOW_FIRST[:1])
    edited = [Migration("0001_slow.sql", "CREATE TABLE once (id bigint);"), SLOW_FIRST[1]]
    with pytest.raises(MigrationError, match=r"0001_slow\.sql"):
        await migrate(empty_dsn, edited)
    assert await ledger(empty_dsn) == ["0001_slow.sql"]


async def test_a_failing_migration_rolls_back_alone(empty_dsn: str) -> None:
    broken = [SLOW_FIRST[0], Migration("0002_broken.sql", "INSERT INTO once VALUES (1); SELECT 1/0;")]
    with pytest.raises(asyncpg.DataError):
        await migrate(empty_dsn, broken)
    assert await ledger(empty_dsn) == ["0001_slow.sql"]
    conn = await asyncpg.connect(empty_dsn)
    try:
        assert await conn.fetchval("SELECT count(*) FROM once") == 0
    finally:
        await conn.close()


async def test_unknown_or_out_of_order_migrations_are_refused(empty_dsn: str) -> None:
    await migrate(empty_dsn, SLOW_FIRST)
    with pytest.raises(MigrationError, match="does not know"):
        await migrate(empty_dsn, SLOW_FIRST[:1])
    late = [SLOW_FIRST[0], Migration("0001a_late.sql", "SELECT 1;"), SLOW_FIRST[1]]
    with pytest.raises(MigrationError, match=r"0001a_late\.sql"):
        await migrate(empty_dsn, late)
