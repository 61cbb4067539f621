"""One import: a file read in a worker thread, staged chunk by chunk, then counted and,
with ``apply`` and no row refused, written in the same transaction; otherwise rolled back.

Shared by ``liaison import`` and ``POST /imports``, so both report alike.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import IO, Any

import asyncpg

from db import imports as sql
from db.imports import Actor, Scope

from .errors import ImportRefused
from .kinds import KINDS
from .reading import open_sheet
from .rows import Rejection, RowParser

__all__ = ["CHUNK", "KEPT_REJECTIONS", "Actor", "Report", "Scope", "run_import"]

CHUNK = 5_000
"""Rows parsed and copied at a time: memory stays bounded whatever the file's size."""
KEPT_REJECTIONS = 10_000
"""Rejections listed in a report at most; ``rejectedRows`` counts them all."""


@dataclass
class Report:
    kind: str
    file_name: str
    sha256: str
    format: str
    encoding: str | None
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected_rows: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    applied: bool = False
    import_id: int | None = None

    def as_json(self) -> dict[str, Any]:
        """camelCase, as the API's other answers; a rejection has a ``code`` only for its row's shape."""
        plain = asdict(self)
        plain["rejected"] = [{k: v for k, v in r.items() if v is not None or k != "code"} for r in plain["rejected"]]
        return {_camel(k): v for k, v in plain.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _digest(binary: IO[bytes]) -> tuple[bytes, int]:
    binary.seek(0)
    digest = hashlib.file_digest(binary, "sha256")  # type: ignore[arg-type]
    size = binary.tell()
    binary.seek(0)
    return digest.digest(), size


async def run_import(
    conn: asyncpg.Connection,
    kind: str,
    binary: IO[bytes],
    *,
    file_name: str,
    apply: bool,
    actor: Actor,
    scope: Scope | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Report:
    """Import ``binary`` (seekable) as ``kind``; raises ``ImportRefused`` for a file that
    cannot be read as one, and rolls back unless it applied."""
    mapping = KINDS[kind]
    sha256, size = await asyncio.to_thread(_digest, binary)
    sheet = await asyncio.to_thread(open_sheet, binary, size)
    parser = await asyncio.to_thread(
        partial(RowParser, aligned=sheet.format == "csv"), mapping, sheet.rows, KEPT_REJECTIONS, sheet.uncomputed
    )
    report = Report(kind, file_name, sha256.hex(), sheet.format, sheet.encoding, ignored_columns=parser.ignored)
    transaction = conn.transaction()
    await transaction.start()
    try:
        await sql.begin(conn, kind)
        while records := await asyncio.to_thread(parser.take, CHUNK):
            await sql.stage(conn, kind, records)
            if progress is not None and sheet.total:
                progress(sheet.done(), sheet.total, sheet.unit)
        refused, counts = await sql.finish(conn, kind, scope, KEPT_REJECTIONS - len(parser.rejected))
        parser.rejected += [Rejection(row, parser.header_of(name), reason) for row, name, reason in refused.listed]
        report.rows = parser.rows
        report.rejected_rows = parser.rejected_rows + refused.rows
        report.rejected = sorted(parser.rejected, key=lambda r: (r.row, r.column))
        report.created, report.updated, report.unchanged = counts.created, counts.updated, counts.unchanged
        if apply and not report.rejected_rows:
            report.import_id = await sql.apply(conn, kind, actor, (file_name, sha256, size), counts)
            report.applied = True
    except sql.RefusedByDatabase as refused:
        await transaction.rollback()
        raise ImportRefused(refused.code, str(refused)) from None
    except BaseException:
        await transaction.rollback()
        raise
    if report.applied:
        await transaction.commit()
    else:
        await transaction.rollback()
    if progress is not None and sheet.total:
        progress(sheet.total, sheet.total, sheet.unit)
    return report
