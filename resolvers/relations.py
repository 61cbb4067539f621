"""Resolvers for relations, made from the mapping: to-one, to-many and connections.

Each reads a key off its parent row and goes through the request's loaders, so a field
costs one statement per request however many parents it has.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from enum import Enum
from typing import Any

from strawberry import Info

from db.model import Table
from db.sql import Predicate

from .context import Context
from .pagination import Connection, connection, page_of

__all__ = ["filter_values", "lookup", "lookup_many", "order_values", "page", "plain", "to_many", "to_one"]

Resolver = Callable[..., Awaitable[Any]]


def plain(value: Any) -> Any:
    """GraphQL input values as the data layer takes them: enums by value, lists as tuples."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list | tuple):
        return tuple(plain(v) for v in value)
    return value


def filter_values(filter: Any) -> dict[str, Any]:
    """A filter input's set fields as plain keyword arguments of a ``db.filters`` function."""
    if filter is None:
        return {}
    return {name: plain(value) for name, value in vars(filter).items() if value is not None}


def order_values(order_by: Any, default_descending: bool = False) -> dict[str, Any]:
    """An order input as ``page``'s ``sort`` and ``descending``."""
    if order_by is None:
        return {"descending": default_descending}
    return {"sort": order_by.field.value, "descending": order_by.direction.value == "desc"}


def to_one(table: Table, column: str, attr: str) -> Resolver:
    """The row of ``table`` whose ``column`` equals the parent's ``attr`` (None if unset)."""

    async def resolve(root: Any, info: Info[Context, None]) -> Any:
        key = getattr(root, attr)
        if key is None:
            return None
        return await info.context.loaders.one(table, column).load(key)

    return resolve


def to_many(table: Table, column: str, attr: str) -> Resolver:
    """The rows of ``table`` whose ``column`` equals the parent's ``attr``."""

    async def resolve(root: Any, info: Info[Context, None]) -> Any:
        return await info.context.loaders.many(table, column).load(getattr(root, attr))

    return resolve


async def lookup(info: Info[Context, None], table: Table, column: str, key: Any) -> Any:
    return await info.context.loaders.one(table, column).load(key)


async def lookup_many(info: Info[Context, None], table: Table, column: str, keys: Sequence[Any]) -> list[Any]:
    return list(await info.context.loaders.one(table, column).load_many(list(keys)))


async def page(
    info: Info[Context, None],
    table: Table,
    *,
    parent: str | None = None,
    key: Any = None,
    where: tuple[Predicate, ...] = (),
    sort: str | None = None,
    descending: bool = False,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Connection[Any]:
    """A connection over ``table``: rows whose ``parent`` column is ``key``, or all rows."""
    order = table.sort(sort, descending)
    name = f"{order.column}:{'desc' if descending else 'asc'}"
    requested = page_of(name, order, first, after, last, before, info.context.limits.max_page_size)
    loaders = info.context.loaders
    rows = await loaders.page(table, parent, where, order, requested).load(key)

    async def count() -> int:
        return await loaders.count(table, parent, where).load(key)

    return connection(rows, name, order, count)
