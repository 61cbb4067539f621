"""Rows as the data layer returns and writes them: one NamedTuple per table.

Field order is the table's column order, so a row reads in with ``Record(*row)`` and
writes out by COPY as it is. Strawberry reads fields as attributes; nothing is copied.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import NamedTuple

__all__ = [
    "Brand",
    "Case",
    "CaseEvent",
    "ContactPoint",
    "CrossStoreReturn",
    "CurrentRating",
    "District",
    "EducationActivity",
    "Enterprise",
    "Honour",
    "Membership",
    "Programme",
    "Region",
    "StarAward",
    "Store",
    "Street",
]


class Region(NamedTuple):
    code: str
    name: str
    name_en: str | None
    is_partner: bool


class District(NamedTuple):
    code: str
    region_code: str
    name: str
    name_en: str | None
    kind: str


class Programme(NamedTuple):
    code: str
    name: str
    name_en: str
    launched_on: date | None
    description: str
    min_committed_days: int | None


class CurrentRating(NamedTuple):
    """A row of the view contact_point_current_rating: a point's latest award."""

    contact_point_id: int
    award_id: int
    batch: int
    stars: int
    awarded_on: date


class ContactPoint(NamedTuple):
    id: int
    code: str
    name: str
    name_en: str | None
    district_code: str
    host_kind: str
    address: str
    established_on: date
    uses_wecom: bool
    has_online_mediation: bool
    street_id: int
    """Last: migration 0016 added it when the street became a row of its own."""


class Street(NamedTuple):
    """A street or town (街镇) of a district."""

    id: int
    district_code: str
    name: str


class Honour(NamedTuple):
    contact_point_id: int
    honour: str
    awarded_on: date
    tier: int
    """1 municipal demonstration, 2 Pudong hundred-best, 3 grass-roots excellent: generated
    from ``honour`` by the database (migration 0017), so never written."""


class EducationActivity(NamedTuple):
    id: int
    contact_point_id: int
    held_on: date
    kind: str
    attendance: int
    """People attending (人次): trainings, lectures, campaigns."""
    copies: int
    """Leaflets and other materials handed out (份)."""
    title: str


class StarAward(NamedTuple):
    id: int
    contact_point_id: int
    batch: int
    stars: int
    awarded_on: date
    upgraded_from_id: int | None


class Enterprise(NamedTuple):
    id: int
    credit_code: str
    name: str
    name_en: str | None
    district_code: str


class Brand(NamedTuple):
    id: int
    enterprise_id: int
    name: str
    name_en: str | None


class Store(NamedTuple):
    id: int
    code: str
    enterprise_id: int
    brand_id: int | None
    name: str
    name_en: str | None
    district_code: str
    address: str


class Membership(NamedTuple):
    id: int
    programme_code: str
    contact_point_id: int | None
    enterprise_id: int | None
    level: str | None
    odr_class: str | None
    committed_days: int | None
    started_on: date
    ended_on: date | None


class Case(NamedTuple):
    id: int
    number: str
    kind: str
    channel: str
    category: str
    status: str
    contact_point_id: int
    respondent_enterprise_id: int | None
    amount_claimed: Decimal | None
    amount_recovered: Decimal | None
    opened_at: datetime
    closed_at: datetime | None
    summary: str
    consumer_name: str | None
    consumer_phone: str | None
    version: int = 1
    """Raised by one with every change (the database does it): optimistic concurrency."""


class CaseEvent(NamedTuple):
    id: int
    case_id: int
    at: datetime
    status: str
    actor: str
    note: str
    kind: str = "status_changed"
    actor_credential: str | None = None
    actor_role: str | None = None
    request_id: str | None = None
    changes: str = "{}"
    """JSON text: each changed column's ``from`` and ``to``; never the consumer's name or phone."""


class CrossStoreReturn(NamedTuple):
    id: int
    code: str
    enterprise_id: int
    purchase_store_id: int
    return_store_id: int
    kind: str
    purchased_on: date
    returned_on: date
    amount: Decimal
