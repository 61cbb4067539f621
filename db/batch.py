"""The batch queries every loader runs: rows by key, pages per parent, counts per parent.

Each takes the keys of a whole batch and returns one result per key, in the order asked,
so a DataLoader can hand them back as they are. One statement per call, whatever the
number of keys. Each obeys its viewer: rows it may not see are never read, confidential
columns come masked (``db.access``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .access import Viewer, row_predicates, select_list
from .model import Table
from .pool import Executor
from .sql import Order, Page, Params, Predicate, all_of

__all__ = ["PageRows", "counts_by", "pages_by", "rows_by"]


@dataclass(frozen=True, slots=True)
class PageRows:
    """One page of a connection: its rows in order and whether more lie on each side."""

    rows: list[Any]
    has_next: bool
    has_previous: bool


def _array_cast(keys: Sequence[object]) -> str:
    return "bigint[]" if keys and isinstance(keys[0], int) else "text[]"


async def rows_by(db: Executor, viewer: Viewer, table: Table, column: str, keys: Sequence[object]) -> list[list[Any]]:
    """The rows whose ``column`` equals each key, grouped by key in the order asked."""
    params = Params()
    key_list = params.add(list(keys), _array_cast(keys))
    columns = select_list(table, viewer, params)
    condition = all_of(row_predicates(table, viewer), params)
    sql = (
        f"SELECT {columns} FROM {table.sql_name} t WHERE t.{column} = ANY({key_list}) AND {condition}"
        f" ORDER BY {table.order}"
    )
    grouped: dict[object, list[Any]] = {key: [] for key in keys}
    position = table.columns.index(column)
    for row in await db.fetch(sql, *params.values):
        grouped[row[position]].append(table.record(*row))
    return [grouped[key] for key in keys]


async def pages_by(
    db: Executor,
    viewer: Viewer,
    table: Table,
    parent: str | None,
    keys: Sequence[object],
    where: tuple[Predicate, ...],
    order: Order,
    page: Page,
) -> list[PageRows]:
    """A page of rows per parent key (``parent`` None: one page over the whole table).

    "First N per parent" is a LATERAL subquery per key over an index that serves the
    order, measured here far faster than a window function over all parents' rows.
    """
    params = Params()
    columns = select_list(table, viewer, params)
    conditions = [all_of(where + row_predicates(table, viewer), params)]
    if page.after is not None:
        conditions.append(order.after(page.after, params))
    if page.before is not None:
        conditions.append(order.after(page.before, params, reverse=True))
    limit = params.add(page.size + 1)
    direction = order.sql(reverse=page.backwards)
    if parent is None:
        sql = (
            f"SELECT {columns} FROM {table.sql_name} t WHERE {' AND '.join(conditions)}"
            f" ORDER BY {direction} LIMIT {limit}"
        )
        groups = [[table.record(*row) for row in await db.fetch(sql, *params.values)]]
    else:
        key_list = params.add(list(keys), _array_cast(keys))
        sql = (
            f"SELECT p.ord, x.* FROM unnest({key_list}) WITH ORDINALITY AS p(key, ord)"
            f" CROSS JOIN LATERAL (SELECT {columns} FROM {table.sql_name} t"
            f" WHERE t.{parent} = p.key AND {' AND '.join(conditions)}"
            f" ORDER BY {direction} LIMIT {limit}) x"
            f" ORDER BY p.ord, {order.sql(reverse=page.backwards, alias='x')}"
        )
        groups = [[] for _ in keys]
        for row in await db.fetch(sql, *params.values):
            groups[row[0] - 1].append(table.record(*row[1:]))
    return [_page(rows, page) for rows in groups]


def _page(rows: list[Any], page: Page) -> PageRows:
    more = len(rows) > page.size
    rows = rows[: page.size]
    if page.backwards:
        rows.reverse()
        return PageRows(rows, has_next=page.before is not None, has_previous=more)
    return PageRows(rows, has_next=more, has_previous=page.after is not None)


async def counts_by(
    db: Executor,
    viewer: Viewer,
    table: Table,
    parent: str | None,
    keys: Sequence[object],
    where: tuple[Predicate, ...],
) -> list[int]:
    """How many rows match ``where`` per parent key (``parent`` None: over the whole table)."""
    params = Params()
    condition = all_of(where + row_predicates(table, viewer), params)
    if parent is None:
        rows = await db.fetch(f"SELECT count(*) FROM {table.sql_name} t WHERE {condition}", *params.values)
        return [rows[0][0]]
    key_list = params.add(list(keys), _array_cast(keys))
    sql = (
        f"SELECT t.{parent}, count(*) FROM {table.sql_name} t"
        f" WHERE t.{parent} = ANY({key_list}) AND {condition} GROUP BY t.{parent}"
    )
    counts = {row[0]: row[1] for row in await db.fetch(sql, *params.values)}
    return [counts.get(key, 0) for key in keys]
