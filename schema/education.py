"""Consumer education (消费教育): the activities of contact points and their figures."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from db import model
from resolvers import relations as rel

from .enums import EducationKind, OrderDirection
from .node import keyed_by

if TYPE_CHECKING:
    from .contact_point import ContactPoint

__all__ = ["EducationActivity", "EducationFilter", "EducationKindFigures", "EducationOrder", "EducationStats"]

ContactPointRef = Annotated["ContactPoint", strawberry.lazy("schema.contact_point")]


@strawberry.type(description="A consumer-education activity held by a contact point on one day.")
@keyed_by(model.EDUCATION_ACTIVITY, "id")
class EducationActivity(relay.Node):
    held_on: datetime.date = strawberry.field(description="The day it was held.")
    kind: EducationKind = strawberry.field(description="Training, leaflets, a 3·15 campaign or other.")
    attendance: int = strawberry.field(description="People attending (人次); 0 where none is counted.")
    copies: int = strawberry.field(description="Leaflets and other materials handed out (份); 0 where none.")
    title: str = strawberry.field(description="Its title as reported, in Chinese; may be empty.")
    contact_point: ContactPointRef = strawberry.field(
        resolver=rel.to_one(model.CONTACT_POINT, "id", "contact_point_id"), description="Who held it."
    )


@strawberry.input(description="Conditions on education activities; all given conditions must hold.")
class EducationFilter:
    kinds: list[EducationKind] | None = strawberry.field(default=None, description="Of any of these kinds.")
    held_from: datetime.date | None = strawberry.field(default=None, description="Held on this day or later.")
    held_before: datetime.date | None = strawberry.field(default=None, description="Held before this day.")


@strawberry.enum(description="What education activities can be sorted by.")
class EducationOrderField(Enum):
    HELD_ON = strawberry.enum_value("held_on", description="By the day held.")


@strawberry.input(description="How to sort education activities. Ties are broken by a stable internal order.")
class EducationOrder:
    field: EducationOrderField = strawberry.field(default=EducationOrderField.HELD_ON, description="Sort key.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.DESC, description="Direction.")


@strawberry.type(description="Activities of one kind and what they counted.")
class EducationKindFigures:
    kind: EducationKind = strawberry.field(description="The kind.")
    activities: int = strawberry.field(description="Activities.")
    attendance: int = strawberry.field(description="Attendances (人次).")
    copies: int = strawberry.field(description="Copies handed out (份).")


@strawberry.type(description="Consumer education held in a period at the scope's contact points.")
class EducationStats:
    activities: int = strawberry.field(description="Activities of every kind.")
    attendance: int = strawberry.field(description="Attendances (人次) of every kind.")
    copies: int = strawberry.field(description="Copies handed out (份) at every kind of activity.")
    training_attendance: int = strawberry.field(
        description="Attendances at trainings and lectures alone: Pudong's published 培训人次."
    )
    by_kind: list[EducationKindFigures] = strawberry.field(description="Per kind held at least once, by kind.")
