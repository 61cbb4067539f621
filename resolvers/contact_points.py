"""Contact points: connections with the filters people ask for."""

from __future__ import annotations

from typing import Any

from strawberry import Info

from db import model
from db.filters import contact_point_predicates

from .context import Context
from .pagination import Connection
from .relations import filter_values, order_values, page

__all__ = ["contact_point_page"]


async def contact_point_page(
    info: Info[Context, None],
    filter: Any,
    order_by: Any,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    *,
    district_code: str | None = None,
) -> Connection[Any]:
    return await page(
        info,
        model.CONTACT_POINT,
        parent="district_code" if district_code is not None else None,
        key=district_code,
        where=contact_point_predicates(**filter_values(filter)),
        first=first,
        after=after,
        last=last,
        before=before,
        **order_values(order_by),
    )
