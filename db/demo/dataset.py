"""The whole demo dataset from one seed: pure Python, no database, the same rows every time."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

from ..records import (
    Brand,
    Case,
    CaseEvent,
    ContactPoint,
    CrossStoreReturn,
    EducationActivity,
    Enterprise,
    Membership,
    StarAward,
    Store,
    Street,
)
from . import plan
from .cases import CaseWriter, demo_drafts
from .education import education_activities
from .enterprises import enterprises
from .network import HONOUR_COLUMNS, HonourRow, contact_points, grassroots_honours, honours
from .ratings import batch2_memberships, other_point_memberships, star_awards
from .returns import cross_store_returns

__all__ = ["COLUMNS", "DemoData", "generate", "stream"]


@dataclass(frozen=True)
class DemoData:
    """Rows per table, in an order that satisfies every foreign key."""

    street: list[Street]
    contact_point: list[ContactPoint]
    contact_point_honour: list[HonourRow]
    star_award: list[StarAward]
    education_activity: list[EducationActivity]
    enterprise: list[Enterprise]
    brand: list[Brand]
    store: list[Store]
    programme_membership: list[Membership]
    cross_store_return: list[CrossStoreReturn]
    case: list[Case]
    case_event: list[CaseEvent]

    def tables(self) -> list[tuple[str, Sequence[tuple[Any, ...]]]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


# Table -> the columns COPY writes, in DemoData's (foreign-key) order.
COLUMNS: dict[str, tuple[str, ...]] = {
    "street": Street._fields,
    "contact_point": ContactPoint._fields,
    "contact_point_honour": HONOUR_COLUMNS,
    "star_award": StarAward._fields,
    "education_activity": EducationActivity._fields,
    "enterprise": Enterprise._fields,
    "brand": Brand._fields,
    "store": Store._fields,
    "programme_membership": Membership._fields,
    "cross_store_return": CrossStoreReturn._fields,
    "case": Case._fields,
    "case_event": CaseEvent._fields,
}


def stream(seed: int = plan.SEED, chunk: int = 5000) -> Iterator[tuple[str, Sequence[tuple[Any, ...]]]]:
    """(table, rows) in DemoData's order; cases and their events come in alternate chunks,
    so that a load can copy one chunk while the next is drawn."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    points, streets = contact_points(rng)
    point_honours = honours(rng, points)
    point_honours += grassroots_honours(seed, points, point_honours)
    awards, batch2 = star_awards(rng, points)  # sets the batch-2 points' WeCom flags
    yield "street", streets
    yield "contact_point", points
    yield "contact_point_honour", point_honours
    yield "star_award", awards
    yield "education_activity", education_activities(seed, points)
    memberships = batch2_memberships(rng, batch2) + other_point_memberships(rng, points, batch2)
    companies = enterprises(rng)
    yield "enterprise", companies.enterprises
    yield "brand", companies.brands
    yield "store", companies.stores
    yield "programme_membership", [m._replace(id=i) for i, m in enumerate(memberships + companies.memberships, 1)]
    yield "cross_store_return", cross_store_returns(rng, companies.yrd, {s.id: s for s in companies.stores})
    writer = CaseWriter(plan.CASES_AS_OF)
    drafts = demo_drafts(rng, points, companies)
    for at in range(0, len(drafts), chunk):
        cases, events = writer.write(rng, drafts[at : at + chunk])
        yield "case", cases
        yield "case_event", events


def generate(seed: int = plan.SEED) -> DemoData:
    tables: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for table, rows in stream(seed):
        tables[table].extend(rows)
    return DemoData(**tables)
