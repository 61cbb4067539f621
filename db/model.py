"""The one mapping of the data model: tables, their record types, default orders.

The loaders and the operation compiler read the same entries, so the two paths
cannot drift. Only names defined here ever reach SQL text as identifiers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from . import records as r
from .sql import Order

__all__ = ["Table"]


@dataclass(frozen=True, eq=False)
class Table:
    name: str
    row: Any
    """The NamedTuple of ``db.records`` the table's rows are written and read as."""
    order: str
    """The default order of small lists of these rows, over alias ``t``."""
    sorts: tuple[tuple[str, str], ...] = ()
    """Columns a connection may sort by, with their SQL types; the first is the default."""
    unique: tuple[str, ...] = ("id",)
    """Columns that identify a row (primary key or UNIQUE): a lookup by one needs no order."""

    @functools.cached_property
    def record(self) -> Any:
        """The type rows are read as: ``row`` plus an instance dict.

        Strawberry's ``nodes`` marks each object it returns with an attribute, which a
        bare NamedTuple (slots only) refuses; the subclass takes it and is still a ``row``.
        """
        return type(self.row.__name__, (self.row,), {"__module__": self.row.__module__})

    @property
    def sql_name(self) -> str:
        return f'"{self.name}"'

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.row._fields)

    def sort(self, column: str | None, descending: bool) -> Order:
        """The keyset order by ``column`` (default: the first sort), ties broken by id."""
        sorts = dict(self.sorts)
        column = column or self.sorts[0][0]
        return Order(column, sorts[column], descending)

    def select_list(self, alias: str = "t") -> str:
        return ", ".join(f'{alias}."{c}"' for c in self.columns)


REGION = Table("region", r.Region, "t.code", unique=("code",))
DISTRICT = Table("district", r.District, "t.code", unique=("code",))
CONTACT_POINT = Table(
    "contact_point",
    r.ContactPoint,
    "t.code",
    (("code", "text"), ("name", "text"), ("established_on", "date")),
    ("id", "code"),
)
STREET = Table("street", r.Street, "t.name, t.id")
HONOUR = Table("contact_point_honour", r.Honour, "t.awarded_on, t.honour")
STAR_AWARD = Table("star_award", r.StarAward, "t.batch, t.id")
CURRENT_RATING = Table(
    "contact_point_current_rating", r.CurrentRating, "t.contact_point_id", unique=("contact_point_id",)
)
EDUCATION_ACTIVITY = Table(
    "education_activity", r.EducationActivity, "t.held_on DESC, t.id DESC", (("held_on", "date"),)
)
ENTERPRISE = Table(
    "enterprise", r.Enterprise, "t.credit_code", (("credit_code", "text"), ("name", "text")), ("id", "credit_code")
)
BRAND = Table("brand", r.Brand, "t.name, t.id")
STORE = Table("store", r.Store, "t.code", (("code", "text"), ("name", "text")), ("id", "code"))
PROGRAMME = Table("programme", r.Programme, "t.code", unique=("code",))
MEMBERSHIP = Table(
    "programme_membership", r.Membership, "t.programme_code, t.started_on, t.id", (("started_on", "date"),)
)
CASE = Table(
    "case", r.Case, "t.opened_at DESC, t.id DESC", (("opened_at", "timestamptz"), ("number", "text")), ("id", "number")
)
CASE_EVENT = Table("case_event", r.CaseEvent, "t.at, t.id")
CROSS_STORE_RETURN = Table(
    "cross_store_return",
    r.CrossStoreReturn,
    "t.returned_on DESC, t.id DESC",
    (("returned_on", "date"), ("code", "text")),
    ("id", "code"),
)
