"""Regions and districts."""

from __future__ import annotations

from strawberry import Info

from db import model, regions
from db.records import Region

from .context import Context
from .relations import AllRows, compiled

__all__ = ["all_regions"]


@compiled(AllRows(model.REGION))
async def all_regions(info: Info[Context, None]) -> list[Region]:
    return await regions.all_regions(info.context.db)
