"""Row predicates for the filters clients pass, as ``Predicate`` values over alias ``t``.

Each function takes plain values (None: no condition) and returns a tuple of predicates,
hashable so that loaders can share a batch by filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from .sql import Predicate

__all__ = [
    "case_predicates",
    "contact_point_predicates",
    "cross_store_return_predicates",
    "education_predicates",
    "enterprise_predicates",
]


def _any(column: str, values: Sequence[object] | None, cast: str) -> list[Predicate]:
    if values is None:
        return []
    return [Predicate(f"t.{column} = ANY({{}})", (tuple(values),), (cast,))]


def _name_contains(text: str | None) -> list[Predicate]:
    """strpos, not LIKE: the client's text is matched literally, wildcards and all."""
    if not text:
        return []
    return [
        Predicate("(strpos(t.name, {}) > 0 OR strpos(lower(t.name_en), lower({})) > 0)", (text, text), ("text", "text"))
    ]


def _exists(table: str, alias: str, condition: str) -> str:
    """A contact point's row in ``table`` (as ``alias``) meeting ``condition``."""
    return f"EXISTS (SELECT 1 FROM {table} {alias} WHERE {alias}.contact_point_id = t.id AND {condition} = ANY({{}}))"


_CONTACT_POINT_FILTERS: tuple[tuple[str, str, str], ...] = (
    ("district_codes", "t.district_code = ANY({})", "text[]"),
    ("host_kinds", "t.host_kind = ANY({})", "text[]"),
    ("programme_levels", _exists("programme_membership", "m", "m.level"), "text[]"),
    ("region_codes", "t.district_code IN (SELECT d.code FROM district d WHERE d.region_code = ANY({}))", "text[]"),
    ("street_names", "t.street_id IN (SELECT s.id FROM street s WHERE s.name = ANY({}))", "text[]"),
    ("current_stars", _exists("contact_point_current_rating", "r", "r.stars"), "int[]"),
    ("rated_in_batches", _exists("star_award", "a", "a.batch"), "int[]"),
    ("honours", _exists("contact_point_honour", "h", "h.honour"), "text[]"),
    ("honour_tiers", _exists("contact_point_honour", "h", "h.tier"), "int[]"),
    ("programmes", _exists("programme_membership", "m", "m.programme_code"), "text[]"),
)
"""Each list filter of contact points: its argument, its SQL (``{}``: the values), their type; in
the order the predicates are written, which statements and their caches are keyed by."""


def contact_point_predicates(
    *, has_online_mediation: bool | None = None, name_contains: str | None = None, **lists: Sequence[object] | None
) -> tuple[Predicate, ...]:
    """``lists``: the arguments of ``_CONTACT_POINT_FILTERS`` (an unknown one is a TypeError)."""
    unknown = lists.keys() - {name for name, _, _ in _CONTACT_POINT_FILTERS}
    if unknown:
        raise TypeError(f"no contact point filter {sorted(unknown)}")
    found = [
        Predicate(sql, (tuple(values),), (cast,))
        for name, sql, cast in _CONTACT_POINT_FILTERS
        if (values := lists.get(name)) is not None
    ]
    if has_online_mediation is not None:
        found.append(Predicate("t.has_online_mediation = {}", (has_online_mediation,), ("boolean",)))
    found += _name_contains(name_contains)
    return tuple(found)


def case_predicates(
    *,
    statuses: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    opened_from: datetime | None = None,
    opened_before: datetime | None = None,
    closed_from: datetime | None = None,
    closed_before: datetime | None = None,
    contact_point_codes: Sequence[str] | None = None,
    district_codes: Sequence[str] | None = None,
    street_names: Sequence[str] | None = None,
    respondent_credit_codes: Sequence[str] | None = None,
    settled: bool | None = None,
) -> tuple[Predicate, ...]:
    found = (
        _any("status", statuses, "text[]")
        + _any("kind", kinds, "text[]")
        + _any("channel", channels, "text[]")
        + _any("category", categories, "text[]")
    )
    for column, op, value in (
        ("opened_at", ">=", opened_from),
        ("opened_at", "<", opened_before),
        ("closed_at", ">=", closed_from),
        ("closed_at", "<", closed_before),
    ):
        if value is not None:
            found.append(Predicate(f"t.{column} {op} {{}}", (value,), ("timestamptz",)))
    if contact_point_codes is not None:
        found.append(
            Predicate(
                "t.contact_point_id IN (SELECT c.id FROM contact_point c WHERE c.code = ANY({}))",
                (tuple(contact_point_codes),),
                ("text[]",),
            )
        )
    if district_codes is not None:
        found.append(
            Predicate(
                "t.contact_point_id IN (SELECT c.id FROM contact_point c WHERE c.district_code = ANY({}))",
                (tuple(district_codes),),
                ("text[]",),
            )
        )
    if street_names is not None:
        found.append(
            Predicate(
                "t.contact_point_id IN (SELECT c.id FROM contact_point c JOIN street s ON s.id = c.street_id"
                " WHERE s.name = ANY({}))",
                (tuple(street_names),),
                ("text[]",),
            )
        )
    if respondent_credit_codes is not None:
        found.append(
            Predicate(
                "t.respondent_enterprise_id IN (SELECT e.id FROM enterprise e WHERE e.credit_code = ANY({}))",
                (tuple(respondent_credit_codes),),
                ("text[]",),
            )
        )
    if settled is not None:
        found.append(Predicate("(t.status = 'settled') = {}", (settled,), ("boolean",)))
    return tuple(found)


def _in_region(column: str, region_codes: Sequence[str]) -> Predicate:
    return Predicate(
        f"t.{column} IN (SELECT s.id FROM store s JOIN district d ON d.code = s.district_code"
        " WHERE d.region_code = ANY({}))",
        (tuple(region_codes),),
        ("text[]",),
    )


def cross_store_return_predicates(
    *,
    purchase_region_codes: Sequence[str] | None = None,
    return_region_codes: Sequence[str] | None = None,
    enterprise_credit_codes: Sequence[str] | None = None,
    returned_from: date | None = None,
    returned_before: date | None = None,
) -> tuple[Predicate, ...]:
    found = []
    if purchase_region_codes is not None:
        found.append(_in_region("purchase_store_id", purchase_region_codes))
    if return_region_codes is not None:
        found.append(_in_region("return_store_id", return_region_codes))
    if enterprise_credit_codes is not None:
        found.append(
            Predicate(
                "t.enterprise_id IN (SELECT e.id FROM enterprise e WHERE e.credit_code = ANY({}))",
                (tuple(enterprise_credit_codes),),
                ("text[]",),
            )
        )
    if returned_from is not None:
        found.append(Predicate("t.returned_on >= {}", (returned_from,), ("date",)))
    if returned_before is not None:
        found.append(Predicate("t.returned_on < {}", (returned_before,), ("date",)))
    return tuple(found)


def education_predicates(
    *,
    kinds: Sequence[str] | None = None,
    held_from: date | None = None,
    held_before: date | None = None,
) -> tuple[Predicate, ...]:
    found = _any("kind", kinds, "text[]")
    if held_from is not None:
        found.append(Predicate("t.held_on >= {}", (held_from,), ("date",)))
    if held_before is not None:
        found.append(Predicate("t.held_on < {}", (held_before,), ("date",)))
    return tuple(found)


def enterprise_predicates(
    *,
    programmes: Sequence[str] | None = None,
    odr_classes: Sequence[str] | None = None,
    district_codes: Sequence[str] | None = None,
    name_contains: str | None = None,
) -> tuple[Predicate, ...]:
    found = _any("district_code", district_codes, "text[]")
    if programmes is not None:
        found.append(
            Predicate(
                "EXISTS (SELECT 1 FROM programme_membership m"
                " WHERE m.enterprise_id = t.id AND m.programme_code = ANY({}))",
                (tuple(programmes),),
                ("text[]",),
            )
        )
    if odr_classes is not None:
        found.append(
            Predicate(
                "EXISTS (SELECT 1 FROM programme_membership m"
                " WHERE m.enterprise_id = t.id AND m.programme_code = 'odr' AND m.odr_class = ANY({}))",
                (tuple(odr_classes),),
                ("text[]",),
            )
        )
    found += _name_contains(name_contains)
    return tuple(found)
