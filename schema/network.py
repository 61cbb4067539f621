"""Regions (province level) and districts (Shanghai's districts, partners' cities)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import Info, relay

from db import model
from resolvers import relations as rel
from resolvers.listings import CONTACT_POINTS_IN_DISTRICT, CONTACT_POINTS_IN_STREET
from resolvers.stats import Scope

from .connection import Connection
from .enums import DistrictKind
from .node import keyed_by
from .stats import Stats, StreetStats

if TYPE_CHECKING:
    from .contact_point import ContactPoint, ContactPointFilter, ContactPointOrder

__all__ = ["District", "Region", "Street"]

ContactPointRef = Annotated["ContactPoint", strawberry.lazy("schema.contact_point")]
FilterRef = Annotated["ContactPointFilter", strawberry.lazy("schema.contact_point")]
OrderRef = Annotated["ContactPointOrder", strawberry.lazy("schema.contact_point")]


@strawberry.federation.type(
    keys=["code", "id"], description="A province-level region: Shanghai, or a Yangtze Delta partner province."
)
@keyed_by(model.REGION, "code")
class Region(relay.Node):
    code: str = strawberry.field(description="Administrative division code (GB/T 2260), e.g. `310000`.")
    name: str = strawberry.field(description="Chinese name, e.g. 上海市.")
    name_en: str | None = strawberry.field(description="English name, e.g. Shanghai.")
    is_partner: bool = strawberry.field(
        description="True for the partner provinces (Jiangsu, Zhejiang, Anhui) whose services federate with this one."
    )
    districts: list[District] = strawberry.field(
        resolver=rel.to_many(model.DISTRICT, "region_code", "code"), description="Its districts or cities, by code."
    )

    @strawberry.field(description="Statistics of its districts' contact points, cases and returns.")
    @rel.compiled(rel.Statistics("region", "code"))
    def stats(self) -> Stats:
        return Scope("region", self.code)  # type: ignore[return-value]


@strawberry.federation.type(
    keys=["code", "id"], description="A district of Shanghai, or a prefecture-level city of a partner province."
)
@keyed_by(model.DISTRICT, "code")
class District(relay.Node):
    code: str = strawberry.field(description="Administrative division code (GB/T 2260), e.g. `310115`.")
    name: str = strawberry.field(description="Chinese name, e.g. 浦东新区.")
    name_en: str | None = strawberry.field(description="English name, where one is in use, e.g. Pudong.")
    kind: DistrictKind = strawberry.field(description="District of a municipality or city of a province.")
    region: Region = strawberry.field(
        resolver=rel.to_one(model.REGION, "code", "region_code"), description="The region it belongs to."
    )

    streets: list[Street] = strawberry.field(
        resolver=rel.to_many(model.STREET, "district_code", "code"),
        description="Its streets and towns (街镇) that have contact points, by name.",
    )

    @strawberry.field(description="Statistics of its contact points, cases and returns.")
    @rel.compiled(rel.Statistics("district", "code"))
    def stats(self) -> Stats:
        return Scope("district", self.code)  # type: ignore[return-value]

    @strawberry.field(description="Its contact points; by code unless `orderBy` says otherwise.")
    @rel.compiled(CONTACT_POINTS_IN_DISTRICT)
    async def contact_points(
        self,
        info: Info,
        filter: FilterRef | None = None,
        order_by: OrderRef | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ContactPointRef]:
        return await CONTACT_POINTS_IN_DISTRICT.resolve(info, self, filter, order_by, first, after, last, before)  # type: ignore[return-value]


@strawberry.federation.type(
    keys=["id"],
    description="A street or town (街镇) of a district: the street/town government is the second party of the"
    " three-party linkage (regulator, street/town, contact point).",
)
@keyed_by(model.STREET, "id")
class Street(relay.Node):
    name: str = strawberry.field(description="Chinese name, e.g. 花木街道 or 川沙新镇.")
    district: District = strawberry.field(
        resolver=rel.to_one(model.DISTRICT, "code", "district_code"), description="The district it belongs to."
    )

    @strawberry.field(description="Statistics of its contact points, their cases and education.")
    @rel.compiled(rel.Statistics("street", "id"))
    def stats(self) -> StreetStats:
        return Scope("street", str(self.id))  # type: ignore[return-value, attr-defined]

    @strawberry.field(description="Its contact points; by code unless `orderBy` says otherwise.")
    @rel.compiled(CONTACT_POINTS_IN_STREET)
    async def contact_points(
        self,
        info: Info,
        filter: FilterRef | None = None,
        order_by: OrderRef | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ContactPointRef]:
        return await CONTACT_POINTS_IN_STREET.resolve(info, self, filter, order_by, first, after, last, before)  # type: ignore[return-value]
