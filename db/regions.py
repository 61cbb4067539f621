"""Regions and districts: batch lookups that return rows in key order."""

from __future__ import annotations

from collections.abc import Sequence

from .pool import Executor
from .records import District, Region

__all__ = ["all_regions", "districts_by_region"]

ALL_REGIONS = "SELECT code, name, name_en, is_partner FROM region ORDER BY code"

DISTRICTS_BY_REGION = """
SELECT code, region_code, name, name_en, kind
  FROM district
 WHERE region_code = ANY($1::text[])
 ORDER BY region_code, code"""


async def all_regions(db: Executor) -> list[Region]:
    return [Region(**row) for row in await db.fetch(ALL_REGIONS)]


async def districts_by_region(
    db: Executor, region_codes: Sequence[str]
) -> list[list[District]]:
    """One list of districts per requested region code, in the order asked."""
    rows = await db.fetch(DISTRICTS_BY_REGION, list(region_codes))
    grouped: dict[str, list[District]] = {code: [] for code in region_codes}
    for row in rows:
        grouped[row["region_code"]].append(District(**row))
    return [grouped[code] for code in region_codes]
