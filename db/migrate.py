"""Apply the plain SQL files of ``db/migrations`` in order, once each.

Every file runs in its own transaction and is recorded with its SHA-256. A session-level
advisory lock serialises concurrent starters; a recorded file whose text changed, or one
the database knows but the code does not, stops the run before anything is applied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from .errors import MigrationError, translate_errors

__all__ = ["MIGRATIONS_DIR", "Migration", "load_migrations", "migrate"]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# An arbitrary constant, the same for every process of this service: "liaison" in ASCII.
LOCK_KEY = 0x6C6961697361

CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migration (
    name        text PRIMARY KEY,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now()
)"""
APPLIED = "SELECT name, checksum FROM schema_migration ORDER BY name"
RECORD = "INSERT INTO schema_migration (name, checksum) VALUES ($1, $2)"


@dataclass(frozen=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    return [Migration(p.name, p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*.sql"))]


async def migrate(dsn: str, migrations: list[Migration] | None = None) -> list[str]:
    """Bring the database at ``dsn`` up to date; return the names applied now."""
    migrations = load_migrations() if migrations is None else migrations
    with translate_errors():
        conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", LOCK_KEY)
        try:
            return await _apply_pending(conn, migrations)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
    finally:
        await conn.close()


async def _apply_pending(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    await conn.execute(CREATE_LEDGER)
    applied = {r["name"]: r["checksum"] for r in await conn.fetch(APPLIED)}
    known = {m.name: m for m in migrations}
    unknown = sorted(set(applied) - set(known))
    if unknown:
        raise MigrationError(f"the database has migrations this code does not know: {', '.join(unknown)}")
    edited = [m.name for m in migrations if m.name in applied and applied[m.name] != m.checksum]
    if edited:
        raise MigrationError(f"applied migrations were edited since: {', '.join(edited)}; add a new file instead")
    latest = max(applied, default="")
    late = [m.name for m in migrations if m.name not in applied and m.name < latest]
    if late:
        raise MigrationError(
            f"migrations sort before the latest applied one ({latest}): {', '.join(late)}; rename them"
        )
    done = []
    for migration in migrations:
        if migration.name in applied:
            continue
        async with conn.transaction():
            await conn.execute(migration.sql)
            await conn.execute(RECORD, migration.name, migration.checksum)
        done.append(migration.name)
    return done
