"""Cases: connections with the filters people ask for."""

from __future__ import annotations

import datetime
from typing import Any

from strawberry import Info
from strawberry.utils.str_converters import to_camel_case

from db import model
from db.filters import case_predicates

from .context import Context
from .errors import BadUserInput, check_range
from .pagination import Connection
from .relations import filter_values, order_values, page

__all__ = ["case_page"]


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    for name, value in values.items():
        if isinstance(value, datetime.datetime) and value.tzinfo is None:
            raise BadUserInput(f"`{to_camel_case(name)}` needs a time zone, e.g. 2020-01-01T00:00:00+08:00.")
    for start, end in (("opened_from", "opened_before"), ("closed_from", "closed_before")):
        check_range(values.get(start), values.get(end), to_camel_case(start), to_camel_case(end))
    return values


async def case_page(
    info: Info[Context, None],
    filter: Any,
    order_by: Any,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    *,
    contact_point_id: int | None = None,
    respondent_id: int | None = None,
) -> Connection[Any]:
    parent, key = None, None
    if contact_point_id is not None:
        parent, key = "contact_point_id", contact_point_id
    elif respondent_id is not None:
        parent, key = "respondent_enterprise_id", respondent_id
    return await page(
        info,
        model.CASE,
        parent=parent,
        key=key,
        where=case_predicates(**_checked(filter_values(filter))),
        first=first,
        after=after,
        last=last,
        before=before,
        **order_values(order_by, default_descending=True),
    )
