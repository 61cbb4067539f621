"""Statistics of a scope (the network, a region, a district, a street), each through a batched loader
from the one definition of each figure in ``db.stats``."""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from strawberry import Info

from db import stats
from db.access import Viewer, reads_every_row
from db.model import CASE, CROSS_STORE_RETURN, Table

from .context import Context
from .errors import BadUserInput, check_range
from .relations import compiled

__all__ = [
    "Count",
    "Flow",
    "Scope",
    "breakdown",
    "case_stats",
    "education_stats",
    "education_tallies",
    "figures",
    "return_flows",
    "street_case_stats",
    "tallied",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Scope:
    """What a ``Stats`` object counts over: ``kind`` is network, region, district, street or
    (for education) contact point; ``key`` its code (a street's id, as text)."""

    kind: str
    key: str


@dataclass(frozen=True, slots=True)
class Count:
    key: Any
    count: int


@dataclass(frozen=True, slots=True)
class Flow:
    from_region_code: str
    to_region_code: str
    count: int


def breakdown(spec: stats.Breakdown) -> Callable[..., Any]:
    """The resolver of a list of cases per value (``CaseStats.by_status`` ...), compiled as ``spec``."""

    @compiled(spec)
    def counts(root: stats.CaseStats, info: Info[Context, None]) -> Any:
        by: dict[Any, int] = getattr(root, info.python_name)
        return [Count(key, count) for key, count in by.items()]

    return counts


PUBLIC_PERIOD_DAYS = 28
"""The shortest period of case or return statistics for callers who may not read every case
or return: a day's figures of a small district can single out one case."""


def period_bounds(viewer: Viewer, period: Any, counted: Table) -> tuple[datetime.date | None, datetime.date | None]:
    """A ``Period`` input as (from, before), held to the rules for ``viewer`` counting ``counted``.

    The operation compiler calls it too (``rel.Summarised``), so both paths refuse alike.
    """
    if period is None:
        return None, None
    start, before = period.from_, period.before
    check_range(start, before, "period.from", "period.before")
    if not reads_every_row(counted, viewer) and (
        start is None or before is None or (before - start).days < PUBLIC_PERIOD_DAYS
    ):
        raise BadUserInput(
            f"Statistics of cases or returns you may not all read take a period with both `from` and `before`,"
            f" at least {PUBLIC_PERIOD_DAYS} days apart (or no period): a day's figures can single out a case."
        )
    return start, before


async def figures(info: Info[Context, None], scope: Scope, tallies: Mapping[str, stats.Tally]) -> SimpleNamespace:
    """An object of figures of the scope (``ContactPointStats`` ...) from their ``tallies`` by
    field name, batched with the same object of other scopes."""
    loader = info.context.loaders.scoped(stats.tallied, scope.kind, tuple(tallies.items()))
    return SimpleNamespace(**await loader.load(scope.key))


async def tallied(info: Info[Context, None], scope: Scope, tally: stats.Tally) -> Any:
    """One figure of the scope."""
    return (await figures(info, scope, {"value": tally})).value


def education_tallies(period: Any) -> dict[str, stats.Tally]:
    """``EducationStats``' figures over a ``Period`` input; public, so any period will do.

    The operation compiler calls it too (``rel.Tallies``), so both paths refuse alike."""
    start, before = (None, None) if period is None else (period.from_, period.before)
    check_range(start, before, "period.from", "period.before")
    return {name: tally.during(start, before) for name, tally in stats.EDUCATION_TALLIES.items()}


async def education_stats(info: Info[Context, None], scope: Scope, period: Any) -> SimpleNamespace:
    """Education held in the period at the scope's contact points."""
    return await figures(info, scope, education_tallies(period))


async def _summarised(
    info: Info[Context, None],
    summarised: Callable[..., Awaitable[list[Any]]],
    from_rows: Callable[..., Awaitable[list[Any]]],
    scope: Scope,
    *period: datetime.date | None,
) -> Any:
    """A statistic read from the summaries; in verify mode also counted from the raw rows and
    compared (as ``repr``, dictionaries in key order): on a difference the raw rows' figures
    are served, the request is flagged and the difference logged."""
    context = info.context
    found = context.loaders.scoped(summarised, scope.kind, *period).load(scope.key)
    if context.execution != "verify":
        return await found
    summary, reference = await asyncio.gather(
        found, context.loaders.scoped(from_rows, scope.kind, *period).load(scope.key)
    )
    if repr(summary) != repr(reference):
        context.summary_mismatches.append(summarised.__name__)
        log.error(
            "request %s: %s of %s %s over %s from the summaries differs from the raw rows\nsummaries: %r\nraw rows:  %r",
            context.request_id,
            summarised.__name__,
            scope.kind,
            scope.key,
            period,
            summary,
            reference,
        )
    return reference


async def case_stats(info: Info[Context, None], scope: Scope, period: Any) -> stats.CaseStats:
    start, before = period_bounds(info.context.viewer, period, CASE)
    return await _summarised(info, stats.case_stats, stats.case_stats_from_rows, scope, start, before)


async def street_case_stats(info: Info[Context, None], scope: Scope, period: Any) -> stats.CaseStats:
    """A street's cases, counted from the rows: the summaries are kept per district."""
    start, before = period_bounds(info.context.viewer, period, CASE)
    return await info.context.loaders.scoped(stats.case_stats_from_rows, scope.kind, start, before).load(scope.key)


async def return_flows(info: Info[Context, None], scope: Scope, period: Any) -> list[Flow]:
    start, before = period_bounds(info.context.viewer, period, CROSS_STORE_RETURN)
    found = await _summarised(info, stats.return_flows, stats.return_flows_from_rows, scope, start, before)
    return [Flow(bought, returned, count) for (bought, returned), count in sorted(found.items())]
