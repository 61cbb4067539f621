"""Connections as data: which table, under which parent, filtered how, sorted how by default.

Each ``Listing`` is read by both paths: its ``resolve`` pages through the request's loaders,
and the operation compiler turns the same ``request`` (filter, order and page, validated
the same way) into SQL. So a connection's semantics are written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from strawberry import Info
from strawberry.utils.str_converters import to_camel_case

from db import model
from db.filters import (
    case_predicates,
    contact_point_predicates,
    cross_store_return_predicates,
    education_predicates,
    enterprise_predicates,
)
from db.model import Table
from db.sql import Order, Page, Predicate

from .context import Context
from .errors import check_range
from .pagination import MAX_PAGE, ConnectionPage, connection, page_of

__all__ = [
    "CASES",
    "CASES_AGAINST",
    "CASES_AT_POINT",
    "CONTACT_POINTS",
    "CONTACT_POINTS_IN_DISTRICT",
    "CONTACT_POINTS_IN_STREET",
    "CROSS_STORE_RETURNS",
    "EDUCATION_AT_POINT",
    "ENTERPRISES",
    "MEMBERS",
    "RETURNS_OF_ENTERPRISE",
    "Listing",
    "PageRequest",
]


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


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A connection's arguments, validated: what both paths page with."""

    where: tuple[Predicate, ...]
    order: Order
    order_name: str
    page: Page


@dataclass(frozen=True)
class Listing:
    table: Table
    predicates: Callable[..., tuple[Predicate, ...]] | None = None
    """A ``db.filters`` function taking the filter input's fields; None: no filter."""
    descending: bool = False
    """The default direction of the default sort."""
    parent: str | None = None
    """The column pointing at the parent row; None for a root connection over the whole table."""
    attr: str | None = None
    """The parent row's attribute that ``parent`` matches."""
    check: Callable[[dict[str, Any]], None] | None = None
    """Validates the filter's values beyond their types (raises ``BadUserInput``)."""

    def under(self, parent: str, attr: str) -> Listing:
        return replace(self, parent=parent, attr=attr)

    def request(
        self,
        filter: Any = None,
        order_by: Any = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        *,
        max_page: int = MAX_PAGE,
    ) -> PageRequest:
        values = filter_values(filter)
        if self.check is not None:
            self.check(values)
        where = self.predicates(**values) if self.predicates is not None else ()
        if order_by is None:
            sort, descending = None, self.descending
        else:
            sort, descending = order_by.field.value, order_by.direction.value == "desc"
        order = self.table.sort(sort, descending)
        name = f"{order.column}:{'desc' if descending else 'asc'}"
        return PageRequest(where, order, name, page_of(name, order, first, after, last, before, max_page))

    async def resolve(self, info: Info[Context, None], root: Any, *arguments: Any) -> ConnectionPage[Any]:
        """The page ``arguments`` (filter, order_by, first, after, last, before) ask for under ``root``."""
        asked = self.request(*arguments, max_page=info.context.limits.max_page_size)
        key = getattr(root, self.attr) if self.attr is not None else None
        loaders = info.context.loaders
        rows = await loaders.page(self.table, self.parent, asked.where, asked.order, asked.page).load(key)

        async def count() -> int:
            return await loaders.count(self.table, self.parent, asked.where).load(key)

        return connection(rows, asked.order_name, asked.order, count)


def _check_cases(values: dict[str, Any]) -> None:
    for start, end in (("opened_from", "opened_before"), ("closed_from", "closed_before")):
        check_range(values.get(start), values.get(end), to_camel_case(start), to_camel_case(end))


def _check_returns(values: dict[str, Any]) -> None:
    check_range(values.get("returned_from"), values.get("returned_before"), "returnedFrom", "returnedBefore")


def _check_education(values: dict[str, Any]) -> None:
    check_range(values.get("held_from"), values.get("held_before"), "heldFrom", "heldBefore")


CONTACT_POINTS = Listing(model.CONTACT_POINT, contact_point_predicates)
CONTACT_POINTS_IN_DISTRICT = CONTACT_POINTS.under("district_code", "code")
CONTACT_POINTS_IN_STREET = CONTACT_POINTS.under("street_id", "id")
ENTERPRISES = Listing(model.ENTERPRISE, enterprise_predicates)
CASES = Listing(model.CASE, case_predicates, descending=True, check=_check_cases)
CASES_AT_POINT = CASES.under("contact_point_id", "id")
CASES_AGAINST = CASES.under("respondent_enterprise_id", "id")
CROSS_STORE_RETURNS = Listing(model.CROSS_STORE_RETURN, cross_store_return_predicates, True, check=_check_returns)
RETURNS_OF_ENTERPRISE = CROSS_STORE_RETURNS.under("enterprise_id", "id")
EDUCATION_AT_POINT = Listing(model.EDUCATION_ACTIVITY, education_predicates, True, check=_check_education).under(
    "contact_point_id", "id"
)
MEMBERS = Listing(model.MEMBERSHIP, descending=True).under("programme_code", "code")
