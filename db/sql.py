"""Building blocks for SQL text: parameters, predicates, orders and pages.

Identifiers come only from the mapping in ``db.model``; every value from a request is a
``$n`` parameter. The same pieces serve the loaders and the operation compiler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Order", "Page", "Params", "Predicate"]


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
