"""Programmes and memberships of contact points and enterprises in them."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import Info, relay

from db import model
from resolvers import relations as rel
from resolvers.listings import MEMBERS

from .connection import Connection
from .enums import MembershipLevel, OdrClass, ProgrammeCode
from .node import keyed_by

if TYPE_CHECKING:
    from .contact_point import ContactPoint
    from .enterprise import Enterprise

__all__ = ["PROGRAMMES", "Member", "Membership", "Programme"]

ContactPointRef = Annotated["ContactPoint", strawberry.lazy("schema.contact_point")]
EnterpriseRef = Annotated["Enterprise", strawberry.lazy("schema.enterprise")]

Member = Annotated[
    ContactPointRef | EnterpriseRef, strawberry.union("Member", description="A contact point or an enterprise.")
]


MEMBER = rel.Either(
    "contact_point_id",
    rel.Relation(model.CONTACT_POINT, "id", "contact_point_id"),
    rel.Relation(model.ENTERPRISE, "id", "enterprise_id"),
)
"""A membership's member: its contact point when it names one, else its enterprise."""

PROGRAMMES = rel.ByKeys(model.PROGRAMME, "code", tuple(p.value for p in ProgrammeCode))
"""Every programme, in the order of their codes."""


@strawberry.type(description="A programme run by the market regulator (放心消费, 线下无理由退换货, ODR, ...).")
@keyed_by(model.PROGRAMME, "code")
class Programme(relay.Node):
    code: ProgrammeCode = strawberry.field(description="Which programme.")
    name: str = strawberry.field(description="Chinese name.")
    name_en: str = strawberry.field(description="English name.")
    launched_on: datetime.date | None = strawberry.field(description="When it started, where published.")
    description: str = strawberry.field(description="What members commit to.")
    min_committed_days: int | None = strawberry.field(
        description="For return programmes: the least return period, in days, a member must offer."
    )

    @strawberry.field(description="Its memberships, latest start first.")
    @rel.compiled(MEMBERS)
    async def members(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Membership]:
        return await MEMBERS.resolve(info, self, None, None, first, after, last, before)  # type: ignore[return-value]


@strawberry.type(description="A contact point's or an enterprise's membership of a programme, over a period.")
@keyed_by(model.MEMBERSHIP, "id")
class Membership(relay.Node):
    programme: Programme = strawberry.field(
        resolver=rel.to_one(model.PROGRAMME, "code", "programme_code"), description="The programme."
    )
    level: MembershipLevel | None = strawberry.field(description="For reassured consumption: the unit's level.")
    odr_class: OdrClass | None = strawberry.field(description="For ODR enterprises: their class, where given.")
    committed_days: int | None = strawberry.field(description="For return programmes: the committed return period.")
    started_on: datetime.date = strawberry.field(description="When it joined.")
    ended_on: datetime.date | None = strawberry.field(description="When it left, if it did.")

    @strawberry.field(description="The member: a contact point or an enterprise.")
    @rel.compiled(MEMBER)
    async def member(self, info: Info) -> Member:
        row: Any = self
        found = MEMBER.first if getattr(row, MEMBER.column) is not None else MEMBER.second
        return await rel.lookup(info, found.table, found.column, getattr(row, found.attr))
