"""Contact points (消费维权联络点 / 联络站), their star awards and honours."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import Info, relay

from db import model
from db.stats import EDUCATION_TALLIES
from resolvers import relations as rel
from resolvers import stats as st
from resolvers.listings import CASES_AT_POINT, EDUCATION_AT_POINT

from .connection import Connection
from .enums import FIVE_INTO, HonourKind, HostKind, MembershipLevel, OrderDirection, ProgrammeCode, Stars
from .node import keyed_by
from .permissions import CASE_READERS, allowed

if TYPE_CHECKING:
    from .case import Case, CaseFilter, CaseOrder
    from .education import EducationActivity, EducationFilter, EducationOrder, EducationStats
    from .network import District, Street
    from .programme import Membership
    from .stats import Period

__all__ = ["ContactPoint", "ContactPointFilter", "ContactPointOrder", "Honour", "StarAward"]

DistrictRef = Annotated["District", strawberry.lazy("schema.network")]
StreetRef = Annotated["Street", strawberry.lazy("schema.network")]
MembershipRef = Annotated["Membership", strawberry.lazy("schema.programme")]
CaseRef = Annotated["Case", strawberry.lazy("schema.case")]
CaseFilterRef = Annotated["CaseFilter", strawberry.lazy("schema.case")]
CaseOrderRef = Annotated["CaseOrder", strawberry.lazy("schema.case")]
ActivityRef = Annotated["EducationActivity", strawberry.lazy("schema.education")]
ActivityFilterRef = Annotated["EducationFilter", strawberry.lazy("schema.education")]
ActivityOrderRef = Annotated["EducationOrder", strawberry.lazy("schema.education")]
EducationStatsRef = Annotated["EducationStats", strawberry.lazy("schema.education")]
PeriodRef = Annotated["Period", strawberry.lazy("schema.stats")]


@strawberry.type(description="A star rating awarded to a contact point in one batch.")
@keyed_by(model.STAR_AWARD, "id")
class StarAward(relay.Node):
    batch: int = strawberry.field(description="The rating batch: 1 (2019) or 2 (2020).")
    stars: Stars = strawberry.field(description="Four or five stars.")
    awarded_on: datetime.date = strawberry.field(description="The day the batch was announced.")
    upgraded_from: StarAward | None = strawberry.field(
        resolver=rel.to_one(model.STAR_AWARD, "id", "upgraded_from_id"),
        description="For an upgrade to five stars: the earlier four-star award it replaces.",
    )
    contact_point: ContactPoint = strawberry.field(
        resolver=rel.to_one(model.CONTACT_POINT, "id", "contact_point_id"), description="The rated contact point."
    )


@strawberry.type(description="An honour a contact point holds, such as municipal demonstration point.")
class Honour:
    honour: HonourKind = strawberry.field(description="Which honour.")
    tier: int = strawberry.field(
        description="Its tier (三级引领): 1 municipal demonstration, 2 Pudong hundred-best, 3 grass-roots excellent."
    )
    awarded_on: datetime.date = strawberry.field(description="When it was awarded.")


@strawberry.federation.type(
    keys=["code", "id"], description="A contact point (消费维权联络点/站): where consumers get help with complaints."
)
@keyed_by(model.CONTACT_POINT, "code")
class ContactPoint(relay.Node):
    code: str = strawberry.field(description="Network-wide code embedding the district, e.g. `CP310115-00001`.")
    name: str = strawberry.field(description="Chinese name.")
    name_en: str | None = strawberry.field(description="English name, where one is in use.")
    district: DistrictRef = strawberry.field(
        resolver=rel.to_one(model.DISTRICT, "code", "district_code"), description="The district it belongs to."
    )
    street: StreetRef = strawberry.field(
        resolver=rel.to_one(model.STREET, "id", "street_id"), description="The street or town (街镇) it sits in."
    )
    host_kind: HostKind = strawberry.field(description="Who hosts it.")
    address: str = strawberry.field(description="Street address.")
    established_on: datetime.date = strawberry.field(description="When it was set up.")
    uses_wecom: bool = strawberry.field(description="Whether it works through WeCom (企业微信).")
    has_online_mediation: bool = strawberry.field(description="Whether it mediates online (线上调解).")
    honours: list[Honour] = strawberry.field(
        resolver=rel.to_many(model.HONOUR, "contact_point_id", "id"), description="Its honours, oldest first."
    )
    star_awards: list[StarAward] = strawberry.field(
        resolver=rel.to_many(model.STAR_AWARD, "contact_point_id", "id"),
        description="Every star award it received, by batch.",
    )
    memberships: list[MembershipRef] = strawberry.field(
        resolver=rel.to_many(model.MEMBERSHIP, "contact_point_id", "id"),
        description="The programmes it takes or took part in.",
    )

    @strawberry.field(description="True for the five-into (五进) kinds of host: malls, scenic areas, schools, ...")
    @rel.compiled(rel.Computed("host_kind", tuple(sorted(FIVE_INTO))))
    def is_five_into(self) -> bool:
        return self.host_kind in FIVE_INTO

    @strawberry.field(description="Its current rating: the award of the latest batch it was rated in, if any.")
    @rel.compiled(
        rel.Relation(model.STAR_AWARD, "id", "id", via=(model.CURRENT_RATING, "contact_point_id", "id", "award_id"))
    )
    async def current_rating(self, info: Info) -> StarAward | None:
        current = await rel.lookup(info, model.CURRENT_RATING, "contact_point_id", self.id)  # type: ignore[attr-defined]
        return None if current is None else await rel.lookup(info, model.STAR_AWARD, "id", current.award_id)

    @strawberry.field(
        description="Cases handled here; latest first unless `orderBy` says otherwise. Not public: null with a FORBIDDEN error for the anonymous role.",
        extensions=allowed(CASE_READERS, "cases"),
    )
    @rel.compiled(CASES_AT_POINT)
    async def cases(
        self,
        info: Info,
        filter: CaseFilterRef | None = None,
        order_by: CaseOrderRef | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CaseRef] | None:
        return await CASES_AT_POINT.resolve(info, self, filter, order_by, first, after, last, before)  # type: ignore[return-value]

    @strawberry.field(
        description="Its consumer-education activities (消费教育); latest first unless `orderBy` says otherwise."
    )
    @rel.compiled(EDUCATION_AT_POINT)
    async def education_activities(
        self,
        info: Info,
        filter: ActivityFilterRef | None = None,
        order_by: ActivityOrderRef | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ActivityRef]:
        return await EDUCATION_AT_POINT.resolve(info, self, filter, order_by, first, after, last, before)  # type: ignore[return-value]

    @strawberry.field(description="Its consumer education in the period (all time if none), in figures.")
    @rel.compiled(rel.Tallies(EDUCATION_TALLIES, st.education_tallies, "contact_point", "code"))
    async def education(self, info: Info, period: PeriodRef | None = None) -> EducationStatsRef:
        return await st.education_stats(info, st.Scope("contact_point", self.code), period)  # type: ignore[return-value]


@strawberry.input(description="Conditions on contact points; all given conditions must hold.")
class ContactPointFilter:
    district_codes: list[str] | None = strawberry.field(default=None, description="In any of these districts.")
    region_codes: list[str] | None = strawberry.field(default=None, description="In any of these regions.")
    street_names: list[str] | None = strawberry.field(
        default=None, description="In a street or town (街镇) of any of these names, e.g. 花木街道."
    )
    host_kinds: list[HostKind] | None = strawberry.field(default=None, description="Hosted by any of these kinds.")
    current_stars: list[Stars] | None = strawberry.field(default=None, description="Currently rated so.")
    rated_in_batches: list[int] | None = strawberry.field(default=None, description="Rated in any of these batches.")
    honours: list[HonourKind] | None = strawberry.field(default=None, description="Holding any of these honours.")
    honour_tiers: list[int] | None = strawberry.field(
        default=None, description="Holding an honour of any of these tiers (1, 2, 3; see `Honour.tier`)."
    )
    programmes: list[ProgrammeCode] | None = strawberry.field(
        default=None, description="Member (now or before) of any of these programmes."
    )
    programme_levels: list[MembershipLevel] | None = strawberry.field(
        default=None, description="A reassured-consumption unit (now or before) at any of these levels."
    )
    has_online_mediation: bool | None = strawberry.field(default=None, description="Mediates online, or not.")
    name_contains: str | None = strawberry.field(
        default=None, description="Chinese or English name contains this text (literally; case-insensitive in English)."
    )


@strawberry.enum(description="What contact points can be sorted by.")
class ContactPointOrderField(Enum):
    CODE = strawberry.enum_value("code", description="By code.")
    NAME = strawberry.enum_value("name", description="By Chinese name (code point order).")
    ESTABLISHED_ON = strawberry.enum_value("established_on", description="By the day it was set up.")


@strawberry.input(description="How to sort contact points. Ties are broken by a stable internal order.")
class ContactPointOrder:
    field: ContactPointOrderField = strawberry.field(default=ContactPointOrderField.CODE, description="Sort key.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description="Direction.")
