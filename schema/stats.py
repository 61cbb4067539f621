"""Statistics of the network, a region or a district. Every figure is counted in SQL."""

from __future__ import annotations

import datetime
import decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Info

from db import model
from db import stats as db_stats
from db.stats import AWARD_TALLIES, BREAKDOWNS, CASE_FIGURES, HONOUR_TALLY, MEMBERSHIP_TALLY, RETURN_FLOWS
from resolvers import relations as rel
from resolvers import stats as st

from .enums import (
    FIVE_INTO,
    CaseCategory,
    CaseChannel,
    CaseKind,
    CaseStatus,
    HonourKind,
    HostKind,
    MembershipLevel,
    ProgrammeCode,
    Stars,
)

if TYPE_CHECKING:
    from .education import EducationStats
    from .network import Region

__all__ = ["Period", "Stats", "StreetStats"]

RegionRef = Annotated["Region", strawberry.lazy("schema.network")]
EducationStatsRef = Annotated["EducationStats", strawberry.lazy("schema.education")]


@strawberry.input(description="A period of days (Shanghai time): from `from` (inclusive) to `before` (exclusive).")
class Period:
    from_: datetime.date | None = strawberry.field(name="from", default=None, description="First day, inclusive.")
    before: datetime.date | None = strawberry.field(default=None, description="First day after, exclusive.")


@strawberry.type
class _Count:
    """How many, for one value of ``key``: each subclass names and types ``key`` (a field it
    redeclares keeps its place, first)."""

    key: Any
    count: int = strawberry.field(description="How many.")


@strawberry.type(description="How many, for one host kind.")
class HostKindCount(_Count):
    key: HostKind = strawberry.field(name="hostKind", description="The host kind.")


@strawberry.type(description="How many, for one current rating.")
class StarsCount(_Count):
    key: Stars = strawberry.field(name="stars", description="The current rating.")


@strawberry.type(description="How many, for one status.")
class CaseStatusCount(_Count):
    key: CaseStatus = strawberry.field(name="status", description="The status.")


@strawberry.type(description="How many, for one kind.")
class CaseKindCount(_Count):
    key: CaseKind = strawberry.field(name="kind", description="The kind.")


@strawberry.type(description="How many, for one channel.")
class CaseChannelCount(_Count):
    key: CaseChannel = strawberry.field(name="channel", description="The channel.")


@strawberry.type(description="How many, for one category.")
class CaseCategoryCount(_Count):
    key: CaseCategory = strawberry.field(name="category", description="The category.")


@strawberry.type(description="Awards of one batch at one rating.")
class BatchCount:
    batch: int = strawberry.field(description="The batch.")
    stars: Stars = strawberry.field(description="The rating.")
    count: int = strawberry.field(description="Awards.")


@strawberry.type(description="Contact points holding one honour, with its tier (三级引领).")
class HonourCount:
    key: HonourKind = strawberry.field(name="honour", description="The honour.")
    tier: int = strawberry.field(description="Its tier: 1 municipal, 2 Pudong hundred-best, 3 grass-roots.")
    count: int = strawberry.field(description="Points holding it.")


@strawberry.type(description="Memberships of one programme (and level, for reassured consumption).")
class MembershipCount:
    key: ProgrammeCode = strawberry.field(name="programme", description="The programme.")
    level: MembershipLevel | None = strawberry.field(description="The level, for reassured consumption.")
    count: int = strawberry.field(description="Memberships, current and past.")


@strawberry.type(description="Cross-store returns bought in one region and brought back in another (or the same).")
class ReturnFlow:
    count: int = strawberry.field(description="Returns and exchanges.")
    from_region: RegionRef = strawberry.field(
        resolver=rel.to_one(model.REGION, "code", "from_region_code"), description="Where the goods were bought."
    )
    to_region: RegionRef = strawberry.field(
        resolver=rel.to_one(model.REGION, "code", "to_region_code"), description="Where they were brought back."
    )


@strawberry.type(description="Contact points by host kind and by current rating.")
class ContactPointStats:
    total: int = strawberry.field(description="Contact points.")
    five_into: int = strawberry.field(
        description="Five-into (五进) points: hosted by malls, scenic areas, schools, barracks, enterprises."
    )
    by_host_kind: list[HostKindCount] = strawberry.field(description="Points per host kind.")
    by_current_stars: list[StarsCount] = strawberry.field(
        description="Points per current rating; unrated points are not listed."
    )


@strawberry.type(description="Star awards per batch, and the points they rate.")
class StarAwardStats:
    total: int = strawberry.field(description="Awards in all batches (a point upgraded counts twice).")
    upgrades: int = strawberry.field(description="Four-star points upgraded to five in a later batch.")
    distinct_rated_points: int = strawberry.field(description="Points with at least one award.")
    by_batch: list[BatchCount] = strawberry.field(description="Awards per batch and rating.")


@strawberry.type(description="Cases opened in the period, at the scope's contact points.")
class CaseStats:
    total: int = strawberry.field(description="Cases.")
    settled_online_mediations: int = strawberry.field(description="Cases settled by online mediation (线上调解成功).")
    settlement_rate: float | None = strawberry.field(
        description="Settled among cases that ended in mediation (settled or not settled; transfers are left out)."
    )
    median_days_to_close: float | None = strawberry.field(
        description="Median days from opening to a final status, at the resolution reported: each closed case"
        " counts its days rounded to hundredths, and the median is rounded to hundredths (halves up)."
    )
    amount_claimed: decimal.Decimal = strawberry.field(description="Yuan claimed, as a decimal string.")
    amount_recovered: decimal.Decimal = strawberry.field(description="Yuan recovered, as a decimal string.")
    by_status: list[CaseStatusCount] = strawberry.field(
        resolver=st.breakdown(BREAKDOWNS["by_status"]), description="Cases per status."
    )
    by_kind: list[CaseKindCount] = strawberry.field(
        resolver=st.breakdown(BREAKDOWNS["by_kind"]), description="Cases per kind."
    )
    by_channel: list[CaseChannelCount] = strawberry.field(
        resolver=st.breakdown(BREAKDOWNS["by_channel"]), description="Cases per channel."
    )
    by_category: list[CaseCategoryCount] = strawberry.field(
        resolver=st.breakdown(BREAKDOWNS["by_category"]), description="Cases per category."
    )


# Each figure's one definition (db.stats), which both paths count.
POINT_TALLIES = db_stats.point_tallies(FIVE_INTO)


@strawberry.type(description="The figures of a scope's contact points, which statistics types inherit.")
class PointFigures:
    @strawberry.field(description="Contact points by host kind and current rating.")
    @rel.compiled(rel.Tallies(POINT_TALLIES))
    async def contact_points(self, info: Info) -> ContactPointStats:
        return await st.figures(info, self, POINT_TALLIES)  # type: ignore[arg-type, return-value]

    @strawberry.field(description="Star awards by batch, upgrades and distinct rated points.")
    @rel.compiled(rel.Tallies(AWARD_TALLIES))
    async def star_awards(self, info: Info) -> StarAwardStats:
        return await st.figures(info, self, AWARD_TALLIES)  # type: ignore[arg-type, return-value]

    @strawberry.field(description="Contact points per honour, the three tiers first to last (三级引领).")
    @rel.compiled(HONOUR_TALLY)
    async def honours(self, info: Info) -> list[HonourCount]:
        return await st.tallied(info, self, HONOUR_TALLY)  # type: ignore[arg-type]

    @strawberry.field(description="Consumer education (消费教育) held in the period (all time if none).")
    @rel.compiled(rel.Tallies(db_stats.EDUCATION_TALLIES, st.education_tallies))
    async def education(self, info: Info, period: Period | None = None) -> EducationStatsRef:
        return await st.education_stats(info, self, period)  # type: ignore[arg-type, return-value]


@strawberry.type(description="Statistics of the network, a region or a district.")
class Stats(PointFigures):
    @strawberry.field(description="Programme memberships of contact points and enterprises, by programme and level.")
    @rel.compiled(MEMBERSHIP_TALLY)
    async def memberships(self, info: Info) -> list[MembershipCount]:
        return await st.tallied(info, self, MEMBERSHIP_TALLY)  # type: ignore[arg-type]

    @strawberry.field(description="Cases opened in the period (all time if none).")
    @rel.compiled(rel.Summarised(model.CASE, CASE_FIGURES))
    async def cases(self, info: Info, period: Period | None = None) -> CaseStats:
        return await st.case_stats(info, self, period)  # type: ignore[arg-type, return-value]

    @strawberry.field(description="Cross-store returns by direction, region to region, that start or end in the scope.")
    @rel.compiled(rel.Summarised(model.CROSS_STORE_RETURN, RETURN_FLOWS))
    async def cross_store_returns(self, info: Info, period: Period | None = None) -> list[ReturnFlow]:
        return await st.return_flows(info, self, period)  # type: ignore[arg-type, return-value]


@strawberry.type(description="Statistics of a street or town (街镇).")
class StreetStats(PointFigures):
    @strawberry.field(
        description="Cases opened in the period (all time if none), counted from the cases themselves: the"
        " summaries are kept per district."
    )
    @rel.compiled(rel.Summarised(model.CASE, CASE_FIGURES))
    async def cases(self, info: Info, period: Period | None = None) -> CaseStats:
        return await st.street_case_stats(info, self, period)  # type: ignore[arg-type, return-value]
