"""The root Query type."""

from __future__ import annotations

from enum import Enum

import strawberry
from strawberry import Info, relay

from db import model
from resolvers import relations as rel
from resolvers.listings import CASES, CONTACT_POINTS, CROSS_STORE_RETURNS, ENTERPRISES
from resolvers.network import all_regions
from resolvers.stats import Scope

from .case import Case, CaseFilter, CaseOrder
from .connection import Connection
from .contact_point import ContactPoint, ContactPointFilter, ContactPointOrder
from .cross_store_return import CrossStoreReturn, CrossStoreReturnFilter, CrossStoreReturnOrder
from .enterprise import Enterprise
from .enums import OdrClass, OrderDirection, ProgrammeCode
from .network import District, Region
from .permissions import CASE_READERS, RETURN_READERS, allowed
from .programme import PROGRAMMES, Programme
from .saved_operation import ADMINS, SavedOperation, saved_operations
from .stats import Stats

__all__ = ["Query"]


@strawberry.input(description="Conditions on enterprises; all given conditions must hold.")
class EnterpriseFilter:
    programmes: list[ProgrammeCode] | None = strawberry.field(default=None, description="Member of these programmes.")
    odr_classes: list[OdrClass] | None = strawberry.field(default=None, description="ODR enterprises of these classes.")
    district_codes: list[str] | None = strawberry.field(default=None, description="Registered in these districts.")
    name_contains: str | None = strawberry.field(default=None, description="Name contains this text, literally.")


@strawberry.enum(description="What enterprises can be sorted by.")
class EnterpriseOrderField(Enum):
    CREDIT_CODE = strawberry.enum_value("credit_code", description="By unified social credit code.")
    NAME = strawberry.enum_value("name", description="By Chinese name (code point order).")


@strawberry.input(description="How to sort enterprises.")
class EnterpriseOrder:
    field: EnterpriseOrderField = strawberry.field(default=EnterpriseOrderField.CREDIT_CODE, description="Sort key.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description="Direction.")


@strawberry.type(description="Read access to the liaison network.")
class Query:
    node: relay.Node | None = relay.node(description="Any object by its global `id`; null if there is none.")
    nodes: list[relay.Node | None] = relay.node(
        description="Objects by global `id`, in the order asked; null where there is none."
    )
    regions: list[Region] = strawberry.field(  # type: ignore[assignment]  # the resolver's rows, read as Region
        resolver=all_regions, description="Shanghai and the partner provinces."
    )
    saved_operations: list[SavedOperation] | None = strawberry.field(
        resolver=saved_operations,
        description="Saved queries, by name and version; deprecated ones only if asked. Admins only.",
        extensions=allowed(ADMINS, "saved queries"),
    )

    @strawberry.field(description="Statistics of the whole network: Shanghai and the partner provinces.")
    @rel.compiled(rel.Statistics("network"))
    def network_stats(self) -> Stats:
        return Scope("network", "network")  # type: ignore[return-value]

    @strawberry.field(description="A region by administrative code, e.g. `310000`; null if unknown.")
    @rel.compiled(rel.Lookup(model.REGION, "code", "code"))
    async def region(self, info: Info, code: str) -> Region | None:
        return await rel.lookup(info, model.REGION, "code", code)

    @strawberry.field(description="A district or city by administrative code, e.g. `310115`; null if unknown.")
    @rel.compiled(rel.Lookup(model.DISTRICT, "code", "code"))
    async def district(self, info: Info, code: str) -> District | None:
        return await rel.lookup(info, model.DISTRICT, "code", code)

    @strawberry.field(description="A contact point by code, e.g. `CP310115-00001`; null if unknown.")
    @rel.compiled(rel.Lookup(model.CONTACT_POINT, "code", "code"))
    async def contact_point(self, info: Info, code: str) -> ContactPoint | None:
        return await rel.lookup(info, model.CONTACT_POINT, "code", code)

    @strawberry.field(description="Contact points network-wide; by code unless `orderBy` says otherwise.")
    @rel.compiled(CONTACT_POINTS)
    async def contact_points(
        self,
        info: Info,
        filter: ContactPointFilter | None = None,
        order_by: ContactPointOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ContactPoint]:
        return await CONTACT_POINTS.resolve(info, self, filter, order_by, first, after, last, before)  # type: ignore[return-value]

    @strawberry.field(description="An enterprise by unified social credit code; null if unknown.")
    @rel.compiled(rel.Lookup(model.ENTERPRISE, "credit_code", "credit_code"))
    async def enterprise(self, info: Info, credit_code: str) -> Enterprise | None:
        return await rel.lookup(info, model.ENTERPRISE, "credit_code", credit_code)

    @strawberry.field(description="Enterprises; by credit code unless `orderBy` says otherwise.")
    @rel.compiled(ENTERPRISES)
    async def enterprises(
        self,
        info: Info,
        filter: EnterpriseFilter | None = None,
        order_by: EnterpriseOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Enterprise]:
        return await ENTERPRISES.resolve(info, self, filter, order_by, first, after, last, before)  # type: ignore[return-value]

    @strawberry.field(description="The programmes, by code.")
    @rel.compiled(PROGRAMMES)
    async def programmes(self, info: Info) -> list[Programme]:
        return await rel.lookup_many(info, PROGRAMMES.table, PROGRAMMES.column, PROGRAMMES.keys)

    @strawberry.field(
        name="case",
        description="A case by number, e.g. `C310115-2020-000001`; null if unknown or not visible to the viewer."
        " Not public: null with a FORBIDDEN error for the anonymous role.",
        extensions=allowed(CASE_READERS, "cases"),
    )
    @rel.compiled(rel.Lookup(model.CASE, "number", "number"))
    async def case_(self, info: Info, number: str) -> Case | None:
        return await rel.lookup(info, model.CASE, "number", number)

    @strawberry.field(
        description="Cases network-wide (a partner's: those of its region); latest first unless `orderBy` says"
        " otherwise. Not public: null with a FORBIDDEN error for the anonymous role.",
        extensions=allowed(CASE_READERS, "cases"),
    )
    @rel.compiled(CASES)
    async def cases(
        self,
        info: Info,
        filter: CaseFilter | None = None,
        order_by: CaseOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Case] | None:
        return await CASES.resolve(info, self, filter, order_by, first, after, last, before)  # type: ignore[return-value]

    @strawberry.field(
        description="Yangtze Delta cross-store returns (a partner's: those with a store in its region); latest"
        " first unless `orderBy` says otherwise. Not public: null with a FORBIDDEN error for the anonymous role.",
        extensions=allowed(RETURN_READERS, "cross-store returns"),
    )
    @rel.compiled(CROSS_STORE_RETURNS)
    async def cross_store_returns(
        self,
        info: Info,
        filter: CrossStoreReturnFilter | None = None,
        order_by: CrossStoreReturnOrder | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CrossStoreReturn] | None:
        return await CROSS_STORE_RETURNS.resolve(info, self, filter, order_by, first, after, last, before)  # type: ignore[return-value]
