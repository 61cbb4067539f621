"""Relay connections (cursor connections spec), generic over the node type."""

from __future__ import annotations

from typing import Generic, TypeVar

import strawberry
from strawberry.federation.schema_directives import Cost, Shareable

__all__ = ["Connection", "Edge", "PageInfo"]

T = TypeVar("T")


# Weight 0: a router's demand control then counts a connection's items, not its plumbing,
# as schema.cost does. PageInfo is a value type other subgraphs may return as well.
FREE = Cost(weight=0)


@strawberry.type(description="Where a page lies in its connection.", directives=[FREE, Shareable()])
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(description="Items come before this page.")
    start_cursor: str | None = strawberry.field(description="The first edge's cursor; pass it as `before`.")
    end_cursor: str | None = strawberry.field(description="The last edge's cursor; pass it as `after`.")


@strawberry.type(description="An item of a page with its cursor.", directives=[FREE])
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque; pass it as `after` or `before` to page from here.")
    node: T = strawberry.field(description="The item.")


@strawberry.type(
    description="A page of items. Page with `first`/`after` or `last`/`before` (at most 100; 20 by default).",
    directives=[FREE],
)
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The page's items with their cursors.")
    nodes: list[T] = strawberry.field(description="The page's items, without cursors.")
    page_info: PageInfo = strawberry.field(description="Whether more pages lie on either side.")

    @strawberry.field(description="How many items the whole connection holds, with its filter, across all pages.")
    async def total_count(self) -> int:
        return await self.count()  # type: ignore[attr-defined]
