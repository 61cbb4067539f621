"""Enterprises (by unified social credit code), their brands and stores."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import Info, relay

from db import model
from resolvers import relations as rel
from resolvers.listings import CASES_AGAINST, RETURNS_OF_ENTERPRISE

from .connection import Connection
from .node import keyed_by
from .permissions import CASE_READERS, RETURN_READERS, allowed

if TYPE_CHECKING:
    from .case import Case, CaseFilter, CaseOrder
    from .cross_store_return import CrossStoreReturn, CrossStoreReturnFilter, CrossStoreReturnOrder
    from .network import District
    from .programme import Membership

__all__ = ["Brand", "Enterprise", "Store"]

DistrictRef = Annotated["District", strawberry.lazy("schema.network")]
MembershipRef = Annotated["Membership", strawberry.lazy("schema.programme")]
CaseRef = Annotated["Case", strawberry.lazy("schema.case")]
CaseFilterRef = Annotated["CaseFilter", strawberry.lazy("schema.case")]
CaseOrderRef = Annotated["CaseOrder", strawberry.lazy("schema.case")]
ReturnRef = Annotated["CrossStoreReturn", strawberry.lazy("schema.cross_store_return")]
ReturnFilterRef = Annotated["CrossStoreReturnFilter", strawberry.lazy("schema.cross_store_return")]
ReturnOrderRef = Annotated["CrossStoreReturnOrder", strawberry.lazy("schema.cross_store_return")]


@strawberry.federation.type(
    keys=["creditCode", "id"], description="An enterprise, known by its unified social credit code (统一社会信用代码)."
)
@keyed_by(model.ENTERPRISE, "credit_code")
class Enterprise(relay.Node):
    credit_code: str = strawberry.field(description="The 18-character unified social credit code.")
    name: str = strawberry.field(description="Registered Chinese name.")
    name_en: str | None = strawberry.field(description="English name, where one is in use.")
    district: DistrictRef = strawberry.field(
        resolver=rel.to_one(model.DISTRICT, "code", "district_code"), description="Where it is registered."
    )
    brands: list[Brand] = strawberry.field(
        resolver=rel.to_many(model.BRAND, "enterprise_id", "id"), description="Its brands, by name."
    )
    stores: list[Store] = strawberry.field(
        resolver=rel.to_many(model.STORE, "enterprise_id", "id"), description="Its physical stores, by code."
    )
    memberships: list[MembershipRef] = strawberry.field(
        resolver=rel.to_many(model.MEMBERSHIP, "enterprise_id", "id"),
        description="The programmes it takes or took part in.",
    )

    @strawberry.field(
        description="Cases against it; latest first unless `orderBy` says otherwise. Not public: null with a FORBIDDEN error for the anonymous role.",
        extensions=allowed(CASE_READERS, "cases"),
    )
    @rel.compiled(CASES_AGAINST)
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
        return await CASES_AGAINST.resolve(info, self, filter, order_by, first, after, last, before)  # type: ignore[return-value]

    @strawberry.field(
        description="Yangtze Delta returns under its commitment; latest first unless `orderBy` says otherwise."
        " Not public: null with a FORBIDDEN error for the anonymous role.",
        extensions=allowed(RETURN_READERS, "cross-store returns"),
    )
    @rel.compiled(RETURNS_OF_ENTERPRISE)
    async def cross_store_returns(
        self,
        info: Info,
        filter: ReturnFilterRef | None = None,
        order_by: ReturnOrderRef | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ReturnRef] | None:
        return await RETURNS_OF_ENTERPRISE.resolve(info, self, filter, order_by, first, after, last, before)  # type: ignore[return-value]


@strawberry.type(description="A brand of an enterprise.")
class Brand:
    name: str = strawberry.field(description="Chinese name.")
    name_en: str | None = strawberry.field(description="English name, where one is in use.")
    enterprise: Enterprise = strawberry.field(
        resolver=rel.to_one(model.ENTERPRISE, "id", "enterprise_id"), description="Who owns it."
    )


@strawberry.federation.type(
    keys=["code", "id"], description="A physical store of an enterprise, in Shanghai or a partner city."
)
@keyed_by(model.STORE, "code")
class Store(relay.Node):
    code: str = strawberry.field(description="Network-wide code embedding the district, e.g. `ST320500-00012`.")
    name: str = strawberry.field(description="Chinese name.")
    name_en: str | None = strawberry.field(description="English name, where one is in use.")
    address: str = strawberry.field(description="Street address.")
    enterprise: Enterprise = strawberry.field(
        resolver=rel.to_one(model.ENTERPRISE, "id", "enterprise_id"), description="Who runs it."
    )
    brand: Brand | None = strawberry.field(
        resolver=rel.to_one(model.BRAND, "id", "brand_id"), description="The brand it trades under."
    )
    district: DistrictRef = strawberry.field(
        resolver=rel.to_one(model.DISTRICT, "code", "district_code"), description="Where it is."
    )
