"""Regions and districts."""

from __future__ import annotations

from strawberry import Info

from db import model, regions
from db.records import District, Region

from .context import Context

__all__ = ["all_regions", "region_districts"]


async def all_regions(info: Info[Context, None]) -> list[Region]:
    return await regions.all_regions(info.context.db)


async def region_districts(root: Region, info: Info[Context, None]) -> list[District]:
    return await info.context.loaders.many(model.DISTRICT, "region_code").load(root.code)
