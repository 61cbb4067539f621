"""Statistics of a scope (the network, a region, a district), each through a batched loader."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from strawberry import Info

from db import stats

from .context import Context
from .errors import check_range

__all__ = ["Count", "Flow", "Scope", "award_stats", "case_stats", "membership_counts", "point_stats", "return_flows"]


@dataclass(frozen=True, slots=True)
class Scope:
    """What a ``Stats`` object counts over: ``kind`` is network, region or district."""

    kind: str
    key: str


@dataclass(frozen=True, slots=True)
class Count:
    key: Any
    count: int
    level: Any = None


@dataclass(frozen=True, slots=True)
class Flow:
    from_region_code: str
    to_region_code: str
    count: int


def counts(by: dict[Any, int]) -> list[Count]:
    return [Count(key, count) for key, count in sorted(by.items(), key=lambda item: str(item[0]))]


def _period(period: Any) -> tuple[datetime.date | None, datetime.date | None]:
    if period is None:
        return None, None
    start, before = period.from_, period.before
    check_range(start, before, "period.from", "period.before")
    return start, before


async def point_stats(info: Info[Context, None], scope: Scope) -> stats.PointStats:
    return await info.context.loaders.scoped(stats.point_stats, scope.kind).load(scope.key)  # type: ignore[no-any-return]


async def award_stats(info: Info[Context, None], scope: Scope) -> stats.AwardStats:
    return await info.context.loaders.scoped(stats.award_stats, scope.kind).load(scope.key)  # type: ignore[no-any-return]


async def membership_counts(info: Info[Context, None], scope: Scope) -> list[Count]:
    found = await info.context.loaders.scoped(stats.membership_stats, scope.kind).load(scope.key)
    return [Count(programme, count, level) for (programme, level), count in sorted(found.items(), key=str)]


async def case_stats(info: Info[Context, None], scope: Scope, period: Any) -> stats.CaseStats:
    start, before = _period(period)
    return await info.context.loaders.scoped(stats.case_stats, scope.kind, start, before).load(scope.key)  # type: ignore[no-any-return]


async def return_flows(info: Info[Context, None], scope: Scope, period: Any) -> list[Flow]:
    start, before = _period(period)
    found = await info.context.loaders.scoped(stats.return_flows, scope.kind, start, before).load(scope.key)
    return [Flow(bought, returned, count) for (bought, returned), count in sorted(found.items())]
