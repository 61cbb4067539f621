"""The summary tables behind case statistics and return flows, proved against the raw rows.

Triggers (migration 0009) keep the summaries in step with every write in the writer's own
transaction. ``check`` compares each summary with its view ``<table>_from_rows``, which
recomputes the same rows from ``case`` and ``cross_store_return``; ``rebuild`` replaces
them from those views in one transaction, with the raw tables locked against writers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

__all__ = ["SUMMARIES", "Difference", "check", "rebuild"]

SUMMARIES = {
    "case_summary": ("district_code", "span", "starts"),
    "case_close_histogram": ("district_code", "span", "starts", "width", "bucket"),
    "return_summary": ("span", "starts", "purchase_district_code", "return_district_code"),
}
"""Each summary table and its key columns."""

LOCK_WRITERS = 'LOCK TABLE "case", cross_store_return IN SHARE MODE'


@dataclass(frozen=True, slots=True)
class Difference:
    table: str
    key: str
    summary: dict[str, Any] | None
    """The summary row's figures, or None when it is missing."""
    from_rows: dict[str, Any] | None
    """The figures the raw rows give, or None when the summary has a row too many."""

    def __str__(self) -> str:
        if self.summary is None or self.from_rows is None:
            found = "missing" if self.summary is None else f"a row too many {self.summary}"
            return f"{self.table} {self.key}: {found}, the raw rows give {self.from_rows or 'nothing'}"
        differ = [f"{k} {v} (raw rows: {self.from_rows[k]})" for k, v in self.summary.items() if self.from_rows[k] != v]
        return f"{self.table} {self.key}: " + ", ".join(differ)


def _difference(table: str, key: str, summary: str | None, from_rows: str | None) -> Difference:
    return Difference(
        table, key, *(None if row is None else json.loads(row, parse_float=Decimal) for row in (summary, from_rows))
    )


def _compared(table: str, key: tuple[str, ...]) -> str:
    columns = ", ".join(key)
    return f"""
SELECT concat_ws(' ', {columns}) AS key,
       CASE WHEN s IS NOT NULL THEN to_jsonb(s) - ARRAY[{", ".join(f"'{k}'" for k in key)}] END::text AS summary,
       CASE WHEN r IS NOT NULL THEN to_jsonb(r) - ARRAY[{", ".join(f"'{k}'" for k in key)}] END::text AS from_rows
  FROM {table} s FULL JOIN {table}_from_rows r USING ({columns})
 WHERE to_jsonb(s) IS DISTINCT FROM to_jsonb(r)
 ORDER BY {columns}"""


async def check(conn: asyncpg.Connection) -> list[Difference]:
    """Every summary row that differs from what the raw rows give (none when all are exact).

    Runs in one repeatable-read snapshot, so writes committed meanwhile cannot show as differences.
    """
    found = []
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        for table, key in SUMMARIES.items():
            found += [_difference(table, *row) for row in await conn.fetch(_compared(table, key))]
    return found


async def rebuild(conn: asyncpg.Connection) -> list[Difference]:
    """Replace every summary with what the raw rows give; return the differences it repaired."""
    async with conn.transaction():
        await conn.execute(LOCK_WRITERS)
        repaired = [
            _difference(table, *row)
            for table, key in SUMMARIES.items()
            for row in await conn.fetch(_compared(table, key))
        ]
        for table in SUMMARIES:
            await conn.execute(f"DELETE FROM {table}")
            await conn.execute(f"INSERT INTO {table} SELECT * FROM {table}_from_rows")
    return repaired
