"""Saved operations: stored, versioned, immutable documents, found by name or by hash."""

from __future__ import annotations

import datetime
import hashlib
from dataclasses import dataclass

import asyncpg

from .pool import Executor

__all__ = [
    "SavedOperation",
    "active_operations",
    "deprecate",
    "document_sha256",
    "find",
    "find_by_hash",
    "list_operations",
    "restore",
    "save",
]

_COLUMNS = "name, version, document, sha256, operation_name, description, owner, created_at, deprecated_at"


@dataclass(frozen=True)
class SavedOperation:
    name: str
    version: int
    document: str
    sha256: str
    operation_name: str
    description: str
    owner: str
    created_at: datetime.datetime
    deprecated_at: datetime.datetime | None

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def document_sha256(document: str) -> str:
    """The hash clients send for a document (Apollo's persisted queries: of its UTF-8 text)."""
    return hashlib.sha256(document.encode()).hexdigest()


async def save(
    conn: asyncpg.Connection, name: str, document: str, operation_name: str, owner: str, description: str = ""
) -> tuple[SavedOperation, bool]:
    """Save ``document`` as the next version of ``name``; (operation, created).

    Saving the document of the latest version again changes nothing, so pushing the same
    folder twice is harmless. Versions are numbered under a lock on the name.
    """
    sha = document_sha256(document)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('saved_operation:' || $1))", name)
        latest = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM saved_operation WHERE name = $1 ORDER BY version DESC LIMIT 1", name
        )
        if latest is not None and latest["sha256"] == sha:
            return SavedOperation(*latest), False
        row = await conn.fetchrow(
            "INSERT INTO saved_operation (name, version, document, sha256, operation_name, description, owner)"
            f" VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}",
            name,
            (latest["version"] if latest else 0) + 1,
            document,
            sha,
            operation_name,
            description,
            owner,
        )
    return SavedOperation(*row), True


async def find(db: Executor, name: str, version: int | None = None) -> SavedOperation | None:
    """``version`` of ``name``, or its latest version that is not deprecated."""
    if version is not None:
        rows = await db.fetch(f"SELECT {_COLUMNS} FROM saved_operation WHERE name = $1 AND version = $2", name, version)
    else:
        rows = await db.fetch(
            f"SELECT {_COLUMNS} FROM saved_operation WHERE name = $1 AND deprecated_at IS NULL"
            " ORDER BY version DESC LIMIT 1",
            name,
        )
    return SavedOperation(*rows[0]) if rows else None


async def find_by_hash(db: Executor, sha256: str) -> str | None:
    """The text of a saved document with this hash, whatever its name or state."""
    rows = await db.fetch("SELECT document FROM saved_operation WHERE sha256 = $1 LIMIT 1", sha256)
    return rows[0][0] if rows else None


async def list_operations(db: Executor) -> list[SavedOperation]:
    return [
        SavedOperation(*r) for r in await db.fetch(f"SELECT {_COLUMNS} FROM saved_operation ORDER BY name, version")
    ]


async def active_operations(db: Executor) -> list[SavedOperation]:
    """Every version not deprecated: what a schema change must not break."""
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM saved_operation WHERE deprecated_at IS NULL ORDER BY name, version")
    return [SavedOperation(*r) for r in rows]


async def deprecate(db: Executor, name: str, version: int) -> bool:
    """Retire an active version: no longer the default, still runnable when pinned."""
    return await _set_deprecated(db, name, version, "now()")


async def restore(db: Executor, name: str, version: int) -> bool:
    """Undo a deprecation: the version is active again (and the default if it is the latest)."""
    return await _set_deprecated(db, name, version, "NULL")


async def _set_deprecated(db: Executor, name: str, version: int, when: str) -> bool:
    """Whether the version was found in the other state, and switched."""
    other = "IS NULL" if when != "NULL" else "IS NOT NULL"
    rows = await db.fetch(
        f"UPDATE saved_operation SET deprecated_at = {when} WHERE name = $1 AND version = $2 AND deprecated_at {other}"
        " RETURNING 1",
        name,
        version,
    )
    return bool(rows)
