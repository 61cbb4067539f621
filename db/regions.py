"""Regions: few, fixed, read whole."""

from __future__ import annotations

from .model import REGION
from .pool import Executor
from .records import Region

__all__ = ["all_regions"]

ALL_REGIONS = f"SELECT {REGION.select_list()} FROM region t ORDER BY t.code"


async def all_regions(db: Executor) -> list[Region]:
    return [REGION.record(*row) for row in await db.fetch(ALL_REGIONS)]
