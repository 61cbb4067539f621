"""Statistics of a scope (the network, a region, a district), each through a batched loader."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from strawberry import Info

from db import stats
from db.access import Role, Viewer

from .context import Context
from .errors import BadUserInput, check_range

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


PUBLIC_PERIOD_DAYS = 28
"""The shortest period of case or return statistics for callers who may not read cases: a
day's figures of a small district can single out one case."""


def _period(info: Info[Context, None], period: Any) -> tuple[datetime.date | None, datetime.date | None]:
    return period_bounds(info.context.viewer, period)


def period_bounds(viewer: Viewer, period: Any) -> tuple[datetime.date | None, datetime.date | None]:
    """A ``Period`` input as (from, before), held to the rules for ``viewer``; both paths call it."""
    if period is None:
        return None, None
    start, before = period.from_, period.before
    check_range(start, before, "period.from", "period.before")
    if viewer.role in (Role.ANONYMOUS, Role.CONTACT_POINT) and (
        start is None or before is None or (before - start).days < PUBLIC_PERIOD_DAYS
    ):
        raise BadUserInput(
            f"Without a credential that reads every case, statistics take a period with both `from` and `before`, at least "
            f"{PUBLIC_PERIOD_DAYS} days apart (or no period)."
        )
    return start, before


async def point_stats(info: Info[Context, None], scope: Scope) -> stats.PointStats:
    return await info.context.loaders.scoped(stats.point_stats, scope.kind).load(scope.key)  # type: ignore[no-any-return]


async def award_stats(info: Info[Context, None], scope: Scope) -> stats.AwardStats:
    return await info.context.loaders.scoped(stats.award_stats, scope.kind).load(scope.key)  # type: ignore[no-any-return]


async def membership_counts(info: Info[Context, None], scope: Scope) -> list[Count]:
    found = await info.context.loaders.scoped(stats.membership_stats, scope.kind).load(scope.key)
    return [Count(programme, count, level) for (programme, level), count in sorted(found.items(), key=str)]


async def case_stats(info: Info[Context, None], scope: Scope, period: Any) -> stats.CaseStats:
    start, before = _period(info, period)
    return await info.context.loaders.scoped(stats.case_stats, scope.kind, start, before).load(scope.key)  # type: ignore[no-any-return]


async def return_flows(info: Info[Context, None], scope: Scope, period: Any) -> list[Flow]:
    start, before = _period(info, period)
    found = await info.context.loaders.scoped(stats.return_flows, scope.kind, start, before).load(scope.key)
    return [Flow(bought, returned, count) for (bought, returned), count in sorted(found.items())]
