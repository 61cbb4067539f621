"""Cases (complaints, consultations, leads) handled at contact points, and their events."""

from __future__ import annotations

import datetime
import decimal
import json
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import Info, relay
from strawberry.federation.schema_directives import Tag
from strawberry.utils.str_converters import to_camel_case

from db import formats, model
from resolvers import relations as rel

from .enums import (
    CaseCategory,
    CaseChannel,
    CaseEventKind,
    CaseKind,
    CaseStatus,
    CaseTransferTarget,
    OrderDirection,
)
from .node import keyed_by
from .permissions import CONSUMER_READERS, allowed

if TYPE_CHECKING:
    from .contact_point import ContactPoint
    from .enterprise import Enterprise

__all__ = ["Case", "CaseChange", "CaseEvent", "CaseFilter", "CaseOrder"]

PERSONAL = Tag(name="personal")
"""Consumers' data: a router's contract variant for partners can leave these fields out."""

ContactPointRef = Annotated["ContactPoint", strawberry.lazy("schema.contact_point")]
EnterpriseRef = Annotated["Enterprise", strawberry.lazy("schema.enterprise")]


@strawberry.type(description="One changed field of a case: its value before and after, as text.")
class CaseChange:
    field: str = strawberry.field(
        description="The field of `Case` that changed, e.g. `status`, `amountRecovered` or `contactPoint`, or"
        " `transfer` for where a transfer sent the case."
    )
    before: str | None = strawberry.field(
        description="The old value as `Case` gives it (an enum's name, a contact point's or enterprise's code,"
        " a timestamp in UTC, a decimal's digits), null if there was none."
    )
    after: str | None = strawberry.field(description="The new value, in the same form; null if there is none.")


_ENUMS: dict[str, type[Enum]] = {
    "status": CaseStatus,
    "kind": CaseKind,
    "channel": CaseChannel,
    "category": CaseCategory,
}
"""Recorded columns whose values are enum values: the API names them by the enum's name."""
_REFERENCES = {
    "contact_point_id": ("contactPoint", model.CONTACT_POINT, "code"),
    "respondent_enterprise_id": ("respondent", model.ENTERPRISE, "credit_code"),
}
"""Recorded columns holding a row's surrogate id: the API names the row by its code."""
_INSTANTS = frozenset({"opened_at", "closed_at"})


def _text(value: object) -> str | None:
    """A recorded value as text: strings and numbers as written, objects as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


async def _api_values(info: Info, column: str, before: object, after: object) -> tuple[str, object, object]:
    """A recorded change of ``column`` (the audit trigger's terms: columns, enum values,
    surrogate ids, the session's time zone) in the terms of ``Case``'s fields."""

    async def value(recorded: object) -> object:
        if recorded is None:
            return None
        if column in _ENUMS:
            return _ENUMS[column](recorded).name
        if column in _REFERENCES:
            _, table, code = _REFERENCES[column]
            row = await rel.lookup(info, table, "id", int(str(recorded)))
            return None if row is None else getattr(row, code)
        if column in _INSTANTS:
            return formats.timestamp(datetime.datetime.fromisoformat(str(recorded)).astimezone(datetime.UTC))
        if column == "transfer" and isinstance(recorded, dict) and "to" in recorded:
            return {**recorded, "to": CaseTransferTarget(recorded["to"]).name}
        return recorded

    field = _REFERENCES[column][0] if column in _REFERENCES else to_camel_case(column)
    return field, await value(before), await value(after)


@strawberry.type(description="A change of a case, with who made it. Append-only: events are never changed.")
class CaseEvent:
    at: datetime.datetime = strawberry.field(description="When (UTC).")
    status: CaseStatus = strawberry.field(description="The status the case entered (or kept).")
    actor: str = strawberry.field(description="Who changed it: a mediator, a district bureau, an API credential, ...")
    note: str = strawberry.field(description="What was noted, possibly empty.")
    kind: CaseEventKind = strawberry.field(description="What happened.")
    actor_role: str | None = strawberry.field(
        description="The writer's role, for changes made through the API (`database` for plain SQL)."
    )

    @strawberry.field(
        description="The fields changed, old and new values, by field name; never the consumer's name or phone."
    )
    async def changes(self, info: Info) -> list[CaseChange]:
        # self is the event row: JSON text. Numbers keep their digits (``100.00``), as text.
        recorded = json.loads(self.changes, parse_float=str, parse_int=str)
        changed = [await _api_values(info, column, c.get("from"), c.get("to")) for column, c in recorded.items()]
        return [
            CaseChange(field=field, before=_text(before), after=_text(after))
            for field, before, after in sorted(changed, key=lambda change: change[0])
        ]


@strawberry.federation.type(
    keys=["number", "id"],
    description="A case brought to a contact point. The consumer's name and phone are confidential: see `consumerName`.",
)
@keyed_by(model.CASE, "number")
class Case(relay.Node):
    number: str = strawberry.field(description="Case number embedding district and year, e.g. `C310115-2020-000001`.")
    kind: CaseKind = strawberry.field(description="Complaint, consultation or lead on illegal conduct.")
    channel: CaseChannel = strawberry.field(description="How it was handled.")
    category: CaseCategory = strawberry.field(description="What it is about.")
    status: CaseStatus = strawberry.field(description="Where it stands.")
    contact_point: ContactPointRef = strawberry.field(
        resolver=rel.to_one(model.CONTACT_POINT, "id", "contact_point_id"), description="Where it was brought."
    )
    respondent: EnterpriseRef | None = strawberry.field(
        resolver=rel.to_one(model.ENTERPRISE, "id", "respondent_enterprise_id"),
        description="The enterprise complained about, when there is one.",
    )
    amount_claimed: decimal.Decimal | None = strawberry.field(
        description='Yuan claimed, as a decimal string (e.g. `"1280.00"`), so no precision is lost.'
    )
    amount_recovered: decimal.Decimal | None = strawberry.field(description="Yuan recovered, as a decimal string.")
    opened_at: datetime.datetime = strawberry.field(description="When it was received (UTC).")
    closed_at: datetime.datetime | None = strawberry.field(description="When it reached a final status (UTC).")
    summary: str = strawberry.field(description="A short description, without personal data.")
    version: int = strawberry.field(
        description="Raised by one with every change: send it back as `expectedVersion` when you change the case."
    )
    consumer_name: str | None = strawberry.field(
        description="The consumer's name, if given. In full only to a case officer, for cases at the contact points"
        " of its scope; masked to its first character (`张*`) for internal and admin roles and for case officers"
        " elsewhere; refused (FORBIDDEN) to other roles.",
        extensions=allowed(CONSUMER_READERS, "consumers' personal data"),
        directives=[PERSONAL],
    )
    consumer_phone: str | None = strawberry.field(
        description="The consumer's mobile number, if given; in full or masked (`138****1234`) as `consumerName`.",
        extensions=allowed(CONSUMER_READERS, "consumers' personal data"),
        directives=[PERSONAL],
    )
    events: list[CaseEvent] = strawberry.field(
        resolver=rel.to_many(model.CASE_EVENT, "case_id", "id"), description="Its lifecycle, oldest first."
    )


@strawberry.input(description="Conditions on cases; all given conditions must hold. Ranges are [from, before).")
class CaseFilter:
    statuses: list[CaseStatus] | None = strawberry.field(default=None, description="In any of these statuses.")
    kinds: list[CaseKind] | None = strawberry.field(default=None, description="Of any of these kinds.")
    channels: list[CaseChannel] | None = strawberry.field(default=None, description="Through any of these channels.")
    categories: list[CaseCategory] | None = strawberry.field(default=None, description="In any of these categories.")
    opened_from: datetime.datetime | None = strawberry.field(default=None, description="Opened at or after.")
    opened_before: datetime.datetime | None = strawberry.field(default=None, description="Opened before.")
    closed_from: datetime.datetime | None = strawberry.field(default=None, description="Closed at or after.")
    closed_before: datetime.datetime | None = strawberry.field(default=None, description="Closed before.")
    contact_point_codes: list[str] | None = strawberry.field(default=None, description="At any of these points.")
    district_codes: list[str] | None = strawberry.field(default=None, description="At points in these districts.")
    street_names: list[str] | None = strawberry.field(
        default=None, description="At points in streets or towns (街镇) of these names, e.g. 花木街道."
    )
    respondent_credit_codes: list[str] | None = strawberry.field(
        default=None, description="Against any of these enterprises (unified social credit codes)."
    )
    settled: bool | None = strawberry.field(default=None, description="Settled (true) or anything else (false).")


@strawberry.enum(description="What cases can be sorted by.")
class CaseOrderField(Enum):
    OPENED_AT = strawberry.enum_value("opened_at", description="By when it was received.")
    NUMBER = strawberry.enum_value("number", description="By case number.")


@strawberry.input(description="How to sort cases. Ties are broken by a stable internal order.")
class CaseOrder:
    field: CaseOrderField = strawberry.field(default=CaseOrderField.OPENED_AT, description="Sort key.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.DESC, description="Direction.")
