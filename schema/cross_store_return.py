"""Yangtze Delta cross-store returns (长三角异地异店退换货)."""

from __future__ import annotations

import datetime
import decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from db import model
from resolvers import relations as rel

from .enums import OrderDirection, ReturnKind
from .node import keyed_by

if TYPE_CHECKING:
    from .enterprise import Enterprise, Store

__all__ = ["CrossStoreReturn", "CrossStoreReturnFilter", "CrossStoreReturnOrder"]

EnterpriseRef = Annotated["Enterprise", strawberry.lazy("schema.enterprise")]
StoreRef = Annotated["Store", strawberry.lazy("schema.enterprise")]


@strawberry.federation.type(
    keys=["code", "id"],
    description="Goods bought in one store and returned or exchanged in another of the same enterprise.",
)
@keyed_by(model.CROSS_STORE_RETURN, "code")
class CrossStoreReturn(relay.Node):
    code: str = strawberry.field(description="Its code, e.g. `YRD-2020-000001`.")
    kind: ReturnKind = strawberry.field(description="Return or exchange.")
    purchased_on: datetime.date = strawberry.field(description="When the goods were bought.")
    returned_on: datetime.date = strawberry.field(description="When they were brought back.")
    amount: decimal.Decimal = strawberry.field(description="Yuan, as a decimal string.")
    enterprise: EnterpriseRef = strawberry.field(
        resolver=rel.to_one(model.ENTERPRISE, "id", "enterprise_id"), description="Whose commitment it relied on."
    )
    purchase_store: StoreRef = strawberry.field(
        resolver=rel.to_one(model.STORE, "id", "purchase_store_id"), description="Where the goods were bought."
    )
    return_store: StoreRef = strawberry.field(
        resolver=rel.to_one(model.STORE, "id", "return_store_id"), description="Where they were brought back."
    )


@strawberry.input(description="Conditions on cross-store returns; all given conditions must hold.")
class CrossStoreReturnFilter:
    purchase_region_codes: list[str] | None = strawberry.field(default=None, description="Bought in these regions.")
    return_region_codes: list[str] | None = strawberry.field(default=None, description="Returned in these regions.")
    enterprise_credit_codes: list[str] | None = strawberry.field(default=None, description="Of these enterprises.")
    returned_from: datetime.date | None = strawberry.field(default=None, description="Returned on or after.")
    returned_before: datetime.date | None = strawberry.field(default=None, description="Returned before.")


@strawberry.enum(description="What cross-store returns can be sorted by.")
class CrossStoreReturnOrderField(Enum):
    RETURNED_ON = strawberry.enum_value("returned_on", description="By the day of return.")
    CODE = strawberry.enum_value("code", description="By code.")


@strawberry.input(description="How to sort cross-store returns.")
class CrossStoreReturnOrder:
    field: CrossStoreReturnOrderField = strawberry.field(
        default=CrossStoreReturnOrderField.RETURNED_ON, description="Sort key."
    )
    direction: OrderDirection = strawberry.field(default=OrderDirection.DESC, description="Direction.")
