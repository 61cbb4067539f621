"""Relay connections over keyset pages: arguments, cursors, and what the schema reads.

A cursor is opaque to clients; ``db.formats`` defines how it is written, for both paths.
Paging never uses OFFSET.
"""

from __future__ import annotations

import binascii
import datetime
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from db import formats
from db.batch import PageRows
from db.formats import read_cursor
from db.sql import Order, Page

from .errors import BadUserInput

__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "ConnectionPage", "Edge", "PageInfo", "connection", "page_of"]

T = TypeVar("T")

DEFAULT_PAGE = 20
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@dataclass(frozen=True, slots=True)
class Edge(Generic[T]):
    cursor: str
    node: T


@dataclass(frozen=True, slots=True)
class ConnectionPage(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count: Callable[[], Awaitable[int]]
    """Runs the batched count only when ``totalCount`` is asked for."""

    @property
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def _text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL")
    return value


def _bigint(value: str) -> int:
    if not (value.isascii() and value.lstrip("-").isdigit()):
        raise ValueError(value)
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise ValueError(value)
    return number


def _timestamptz(value: str) -> datetime.datetime:
    moment = datetime.datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(value)
    return moment


# How a cursor's sort value parses for each SQL type an order may use; the parsed value
# goes to SQL as a typed parameter.
_PARSERS: dict[str, Callable[[str], object]] = {
    "text": _text,
    "date": datetime.date.fromisoformat,
    "timestamptz": _timestamptz,
    "bigint": _bigint,
}


def decode_cursor(cursor: str, name: str, order: Order) -> tuple[object, object]:
    """The (sort value, id) a cursor holds, parsed as ``order``'s SQL types."""
    try:
        given, value, row_id = read_cursor(cursor)
    except (binascii.Error, ValueError, TypeError, RecursionError) as exc:
        raise BadUserInput(f"The cursor {cursor!r} is not one this API gave out.") from exc
    if given != name or not isinstance(value, str) or not isinstance(row_id, str):
        raise BadUserInput(f"The cursor {cursor!r} belongs to another order; page again from the start.")
    try:
        return _PARSERS[order.cast](value), _PARSERS[order.tiebreak_cast](row_id)
    except ValueError as exc:
        raise BadUserInput(f"The cursor {cursor!r} is not one this API gave out.") from exc


def page_of(
    order_name: str,
    order: Order,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    max_size: int = MAX_PAGE,
) -> Page:
    """Validate Relay arguments: ``first`` or ``last`` (default first 20), at most ``max_size``."""
    if first is not None and last is not None:
        raise BadUserInput("Pass `first` or `last`, not both.")
    for name, size in (("first", first), ("last", last)):
        if size is not None and not 0 <= size <= max_size:
            raise BadUserInput(f"`{name}` must be between 0 and {max_size}; got {size}.")
    if first is None and last is None:
        first = min(DEFAULT_PAGE, max_size)
    return Page(
        first=first,
        after=decode_cursor(after, order_name, order) if after is not None else None,
        last=last,
        before=decode_cursor(before, order_name, order) if before is not None else None,
    )


def connection(
    rows: PageRows, order_name: str, order: Order, count: Callable[[], Awaitable[int]]
) -> ConnectionPage[Any]:
    edges = [
        Edge(formats.cursor(order_name, getattr(row, order.column), getattr(row, order.tiebreak)), row)
        for row in rows.rows
    ]
    info = PageInfo(
        has_next_page=rows.has_next,
        has_previous_page=rows.has_previous,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return ConnectionPage(edges, info, count)
