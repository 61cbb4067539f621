"""Building blocks for SQL text: parameters, predicates, orders and pages.

Identifiers come only from the mapping in ``db.model``; every value from a request is a
``$n`` parameter. The same pieces serve the loaders and the operation compiler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Order", "Page", "Params", "Predicate", "shared_form"]


@dataclass
class Params:
    """Collects parameter values and hands out their ``$n`` placeholders."""

    values: list[Any] = field(default_factory=list)

    def add(self, value: Any, cast: str | None = None) -> str:
        self.values.append(value)
        placeholder = f"${len(self.values)}"
        return f"{placeholder}::{cast}" if cast else placeholder


@dataclass(frozen=True)
class Predicate:
    """A condition over alias ``t``: SQL with ``{}`` slots for its values, in order.

    Hashable, so a DataLoader can be keyed by the predicates its batch shares.
    """

    sql: str
    values: tuple[Any, ...] = ()
    casts: tuple[str | None, ...] = ()

    def render(self, params: Params) -> str:
        casts = self.casts or (None,) * len(self.values)
        return self.sql.format(*(params.add(v, c) for v, c in zip(self.values, casts, strict=True)))


def all_of(predicates: tuple[Predicate, ...], params: Params) -> str:
    return " AND ".join(f"({p.render(params)})" for p in predicates) or "true"


@dataclass(frozen=True)
class Order:
    """A total order over alias ``t``: the sort column, then the unique id as tie-break.

    ``cast`` is the sort column's SQL type: cursors carry its value as text.
    """

    column: str
    cast: str
    descending: bool = False
    tiebreak: str = "id"
    tiebreak_cast: str = "bigint"

    def sql(self, reverse: bool = False, alias: str = "t") -> str:
        direction = "DESC" if self.descending != reverse else "ASC"
        return f"{alias}.{self.column} {direction}, {alias}.{self.tiebreak} {direction}"

    def after(self, cursor: tuple[object, object], params: Params, reverse: bool = False) -> str:
        """Rows strictly past ``cursor`` (sort value, tie-break, as the columns' types) in this order."""
        op = "<" if self.descending != reverse else ">"
        value, tiebreak = params.add(cursor[0], self.cast), params.add(cursor[1], self.tiebreak_cast)
        return f"(t.{self.column}, t.{self.tiebreak}) {op} ({value}, {tiebreak})"


@dataclass(frozen=True)
class Page:
    """A Relay page request: ``first`` after a cursor, or ``last`` before one."""

    first: int | None = None
    after: tuple[object, object] | None = None
    last: int | None = None
    before: tuple[object, object] | None = None

    @property
    def backwards(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        size = self.last if self.backwards else self.first
        assert size is not None
        return size


_SHAREABLE_CASTS = frozenset({"text", "int", "bigint", "boolean", "date", "timestamptz", "numeric"})
"""Parameter types ``shared_form`` passes as arrays (``unnest`` flattens an array of arrays,
so an array parameter cannot be one)."""
_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\$(\d+)(?:::(\w+)(\[\])?)?""")
"""A string literal, a quoted name, or a placeholder with its cast."""


class _NotShareable(Exception):
    pass


def shared_form(sql: str) -> str | None:
    """``sql``, a statement of one row whose every placeholder is cast, run for several
    requests' values at once: ``$n`` becomes an array of the n-th value of each, and each
    row is ``(i, <sql's columns>)`` for the i-th values (from 1). One execution for many
    costs PostgreSQL less than half as much a request as an execution each (Q3, 8 at once:
    66 µs of backend CPU a request against 146; ``bench/RESULTS.md``). None when a
    placeholder has no cast, an array type, or two types, or there is none."""
    casts: dict[int, str] = {}

    def placeholder(match: re.Match[str]) -> str:
        number, cast, array = match.group(1, 2, 3)
        if number is None:  # a literal or a quoted name, kept as it is
            return match.group(0)
        if cast not in _SHAREABLE_CASTS or array or casts.setdefault(int(number), cast) != cast:
            raise _NotShareable
        return f"_shared._c{number}::{cast}"

    if "_shared" in sql:  # its names could be taken for ours
        return None
    try:
        body = _TOKENS.sub(placeholder, sql)
    except _NotShareable:
        return None
    numbers = sorted(casts)
    if not numbers or numbers != list(range(1, len(numbers) + 1)):
        return None
    arrays = ", ".join(f"${n}::{casts[n]}[]" for n in numbers)
    columns = ", ".join(f"_c{n}" for n in numbers)
    return (
        f"SELECT _shared._i, _answer.* FROM unnest({arrays}) WITH ORDINALITY AS _shared({columns}, _i)"
        f" CROSS JOIN LATERAL ({body}) AS _answer"
    )
