"""Resolvers for relations, made from the mapping: to-one, to-many and lookups by key.

Each reads a key off its parent row and goes through the request's loaders, so a field
costs one statement per request however many parents it has. Each resolver also carries
its relation as data (``compiled``), which the operation compiler reads: the two paths
follow the same mapping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from strawberry import Info

from db.model import Table
from db.plan import Scope

from .context import Context

__all__ = [
    "AllRows",
    "ByKeys",
    "Computed",
    "Either",
    "Lookup",
    "Relation",
    "Statistics",
    "Summarised",
    "Tallies",
    "compiled",
    "lookup",
    "lookup_many",
    "to_many",
    "to_one",
]

Resolver = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Relation:
    """Rows of ``table`` whose ``column`` equals the parent's ``attr`` (``many``: all, in the
    table's order; else the first or null). With ``via`` (table, column, parent attr, attr),
    the key is read from the first matching row of another table."""

    table: Table
    column: str
    attr: str
    many: bool = False
    via: tuple[Table, str, str, str] | None = None


@dataclass(frozen=True)
class Lookup:
    """A root field: the row of ``table`` whose ``column`` equals the argument ``argument``."""

    table: Table
    column: str
    argument: str


@dataclass(frozen=True)
class ByKeys:
    """A root field: the row of ``table`` whose ``column`` is each of ``keys``, in that order."""

    table: Table
    column: str
    keys: tuple[Any, ...]


@dataclass(frozen=True)
class Either:
    """A to-one field of a union type: ``first``'s row when the parent's ``column`` is set,
    else ``second``'s; each is the union member whose table it reads."""

    column: str
    first: Relation
    second: Relation


@dataclass(frozen=True)
class AllRows:
    """A root field: every row of ``table``, in its order."""

    table: Table


@dataclass(frozen=True)
class Statistics:
    """Statistics of a scope: the network (``attr`` None), or the region or district whose
    code is the parent's ``attr``."""

    scope: Scope
    attr: str | None = None


@dataclass(frozen=True)
class Summarised:
    """Figures of the enclosing scope over the field's ``period``, read from the summary tables
    as the rows of ``figures`` (``db.stats.CASE_FIGURES``, ``RETURN_FLOWS``); ``counted`` is
    the raw table, whose access rules say how short a period the viewer may ask for."""

    counted: Table
    figures: Table


@dataclass(frozen=True)
class Tallies:
    """An object of figures of the enclosing scope: its fields' ``db.stats.Tally`` by name;
    with ``during``, those over the field's ``period`` argument, as ``during`` makes them.
    With ``scope``, the figures of that scope keyed by the parent's ``attr`` instead (a
    contact point's education, which no statistics object encloses)."""

    tallies: dict[str, Any]
    during: Callable[[Any], dict[str, Any]] | None = None
    scope: Scope | None = None
    attr: str | None = None


@dataclass(frozen=True)
class Computed:
    """A boolean field computed from a column: true when it holds one of ``values``."""

    column: str
    values: tuple[str, ...]


def compiled(spec: Any) -> Callable[[F], F]:
    """Mark a resolver with what it reads, as data the operation compiler can render."""

    def mark(func: F) -> F:
        func.compiled = spec  # type: ignore[attr-defined]
        return func

    return mark


def to_one(table: Table, column: str, attr: str) -> Resolver:
    """The row of ``table`` whose ``column`` equals the parent's ``attr`` (None if unset)."""

    @compiled(Relation(table, column, attr))
    async def resolve(root: Any, info: Info[Context, None]) -> Any:
        key = getattr(root, attr)
        if key is None:
            return None
        return await info.context.loaders.one(table, column).load(key)

    return resolve


def to_many(table: Table, column: str, attr: str) -> Resolver:
    """The rows of ``table`` whose ``column`` equals the parent's ``attr``."""

    @compiled(Relation(table, column, attr, many=True))
    async def resolve(root: Any, info: Info[Context, None]) -> Any:
        return await info.context.loaders.many(table, column).load(getattr(root, attr))

    return resolve


async def lookup(info: Info[Context, None], table: Table, column: str, key: Any) -> Any:
    return await info.context.loaders.one(table, column).load(key)


async def lookup_many(info: Info[Context, None], table: Table, column: str, keys: Sequence[Any]) -> list[Any]:
    return list(await info.context.loaders.one(table, column).load_many(list(keys)))
