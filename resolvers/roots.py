"""Root lists that are connections: enterprises and cross-store returns."""

from __future__ import annotations

from typing import Any

from strawberry import Info

from db import model
from db.filters import cross_store_return_predicates, enterprise_predicates

from .context import Context
from .errors import check_range
from .pagination import Connection
from .relations import filter_values, order_values, page

__all__ = ["cross_store_return_page", "enterprise_page"]


async def enterprise_page(info: Info[Context, None], filter: Any, order_by: Any, **page_args: Any) -> Connection[Any]:
    return await page(
        info,
        model.ENTERPRISE,
        where=enterprise_predicates(**filter_values(filter)),
        **order_values(order_by),
        **page_args,
    )


async def cross_store_return_page(
    info: Info[Context, None], filter: Any, order_by: Any, *, enterprise_id: int | None = None, **page_args: Any
) -> Connection[Any]:
    values = filter_values(filter)
    check_range(values.get("returned_from"), values.get("returned_before"), "returnedFrom", "returnedBefore")
    return await page(
        info,
        model.CROSS_STORE_RETURN,
        parent=None if enterprise_id is None else "enterprise_id",
        key=enterprise_id,
        where=cross_store_return_predicates(**values),
        **order_values(order_by, default_descending=True),
        **page_args,
    )
