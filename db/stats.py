"""Statistics of the network, a region or a district: aggregates batched by scope key.

Each function takes the keys of one batch (region or district codes; for the whole
network the single key ``NETWORK``) and returns one result per key, in the order asked:
one statement per kind of statistic, whatever the number of scopes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from .model import Table
from .pool import Executor
from .sql import Params

__all__ = [
    "NETWORK",
    "TALLY",
    "AwardStats",
    "CaseStats",
    "PointStats",
    "Tally",
    "award_stats",
    "case_stats",
    "membership_stats",
    "point_stats",
    "return_flows",
]

NETWORK = "network"
"""The scope key of the whole network."""

# What a scope key selects, as an expression over contact point ``p`` joined to district ``d``.
_SCOPE = {"network": "'network'", "region": "d.region_code", "district": "d.code"}


def _scope(scope: str) -> str:
    return _SCOPE[scope]


@dataclass(slots=True)
class PointStats:
    total: int = 0
    by_host_kind: dict[str, int] = field(default_factory=dict)
    by_current_stars: dict[int, int] = field(default_factory=dict)


@dataclass(slots=True)
class AwardStats:
    by_batch: dict[tuple[int, int], int] = field(default_factory=dict)
    """(batch, stars) -> awards."""
    upgrades: int = 0
    distinct_rated_points: int = 0

    @property
    def total(self) -> int:
        return sum(self.by_batch.values())


@dataclass(slots=True)
class CaseStats:
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    settled_online_mediations: int = 0
    settled: int = 0
    not_settled: int = 0
    median_days_to_close: float | None = None
    amount_claimed: Decimal = Decimal("0.00")
    amount_recovered: Decimal = Decimal("0.00")

    @property
    def settlement_rate(self) -> float | None:
        """Settled among cases that ended in mediation (settled or not); transfers left out."""
        decided = self.settled + self.not_settled
        return None if decided == 0 else self.settled / decided


def _sets(scope: str, *sets: str) -> str:
    """GROUPING SETS of the given column lists, each within the scope key (none for the network)."""
    key = [] if scope == "network" else [_scope(scope)]
    return "GROUPING SETS (" + ", ".join("(" + ", ".join(key + [s for s in [cols] if s]) + ")" for cols in sets) + ")"


def _period(params: list[Any], column: str, start: date | None, before: date | None, as_sql: str) -> list[str]:
    """Conditions for [start, before) on ``column``, their days appended to ``params``."""
    found = []
    for op, day in ((">=", start), ("<", before)):
        if day is not None:
            params.append(day)
            found.append(f"{column} {op} (${len(params)}{as_sql})")
    return found


def _where_keys(scope: str) -> str:
    return "true" if scope == "network" else f"{_scope(scope)} = ANY($1::text[])"


def _args(scope: str, keys: Sequence[str]) -> list[Any]:
    return [] if scope == "network" else [list(keys)]


async def point_stats(db: Executor, scope: str, keys: Sequence[str]) -> list[PointStats]:
    sql = f"""
SELECT {_scope(scope)} AS key, GROUPING(p.host_kind), p.host_kind, r.stars, count(*)
  FROM contact_point p JOIN district d ON d.code = p.district_code
  LEFT JOIN contact_point_current_rating r ON r.contact_point_id = p.id
 WHERE {_where_keys(scope)}
 GROUP BY {_sets(scope, "p.host_kind", "r.stars")}"""
    found: dict[str, PointStats] = defaultdict(PointStats)
    for key, by_stars, host_kind, stars, count in await db.fetch(sql, *_args(scope, keys)):
        stats = found[key]
        if not by_stars:
            stats.by_host_kind[host_kind] = count
            stats.total += count
        elif stars is not None:
            stats.by_current_stars[stars] = count
    return [found[key] for key in keys]


async def award_stats(db: Executor, scope: str, keys: Sequence[str]) -> list[AwardStats]:
    sql = f"""
SELECT {_scope(scope)} AS key, GROUPING(a.batch), a.batch, a.stars, count(*),
       count(*) FILTER (WHERE a.upgraded_from_id IS NOT NULL),
       count(DISTINCT a.contact_point_id)
  FROM star_award a JOIN contact_point p ON p.id = a.contact_point_id JOIN district d ON d.code = p.district_code
 WHERE {_where_keys(scope)}
 GROUP BY {_sets(scope, "a.batch, a.stars", "")}"""
    found: dict[str, AwardStats] = defaultdict(AwardStats)
    for key, whole, batch, stars, count, upgrades, distinct in await db.fetch(sql, *_args(scope, keys)):
        stats = found[key]
        if whole:
            stats.upgrades, stats.distinct_rated_points = upgrades, distinct
        else:
            stats.by_batch[(batch, stars)] = count
    return [found[key] for key in keys]


async def membership_stats(db: Executor, scope: str, keys: Sequence[str]) -> list[dict[tuple[str, str | None], int]]:
    """(programme, level) -> memberships of the scope's contact points and enterprises."""
    sql = f"""
SELECT {_scope(scope)} AS key, m.programme_code, m.level, count(*)
  FROM programme_membership m
  LEFT JOIN contact_point p ON p.id = m.contact_point_id
  LEFT JOIN enterprise e ON e.id = m.enterprise_id
  JOIN district d ON d.code = coalesce(p.district_code, e.district_code)
 WHERE {_where_keys(scope)}
 GROUP BY {_sets(scope, "m.programme_code, m.level")}"""
    found: dict[str, dict[tuple[str, str | None], int]] = defaultdict(dict)
    for key, programme, level, count in await db.fetch(sql, *_args(scope, keys)):
        found[key][(programme, level)] = count
    return [found[key] for key in keys]


MEDIAN_DAYS_TO_CLOSE = (
    "round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.closed_at - c.opened_at) / 86400)"
    " FILTER (WHERE c.closed_at IS NOT NULL))::numeric, 2)::float8"
)
"""Median days to close, rounded to 2 places in SQL (half away from zero), the same on both paths."""
OPENED_ON = "::date::timestamp AT TIME ZONE 'Asia/Shanghai'"
"""A day as the instant it starts in Shanghai: periods of case statistics are Shanghai days."""


async def case_stats(
    db: Executor, scope: str, keys: Sequence[str], opened_from: date | None, opened_before: date | None
) -> list[CaseStats]:
    """Cases opened in [from, before) (Shanghai dates) at the scope's contact points."""
    params: list[Any] = _args(scope, keys)
    period = _period(params, "c.opened_at", opened_from, opened_before, OPENED_ON)
    sql = f"""
SELECT {_scope(scope)} AS key, GROUPING(c.status, c.kind, c.channel, c.category),
       c.status, c.kind, c.channel, c.category, count(*),
       count(*) FILTER (WHERE c.channel = 'online_mediation' AND c.status = 'settled'),
       {MEDIAN_DAYS_TO_CLOSE},
       coalesce(sum(c.amount_claimed), 0.00), coalesce(sum(c.amount_recovered), 0.00)
  FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id JOIN district d ON d.code = p.district_code
 WHERE {" AND ".join([_where_keys(scope), *period])}
 GROUP BY {_sets(scope, "c.status", "c.kind", "c.channel", "c.category", "")}"""
    found: dict[str, CaseStats] = defaultdict(CaseStats)
    # GROUPING(status, kind, channel, category): a bit set for each column *not* grouped by.
    for key, mask, status, kind, channel, category, count, online, median, claimed, recovered in await db.fetch(
        sql, *params
    ):
        stats = found[key]
        if mask == 0b0111:
            stats.by_status[status] = count
        elif mask == 0b1011:
            stats.by_kind[kind] = count
        elif mask == 0b1101:
            stats.by_channel[channel] = count
        elif mask == 0b1110:
            stats.by_category[category] = count
        else:
            stats.total, stats.settled_online_mediations = count, online
            stats.median_days_to_close = median
            stats.amount_claimed, stats.amount_recovered = claimed, recovered
    for stats in found.values():
        stats.settled = stats.by_status.get("settled", 0)
        stats.not_settled = stats.by_status.get("not_settled", 0)
    return [found[key] for key in keys]


async def return_flows(
    db: Executor, scope: str, keys: Sequence[str], returned_from: date | None, returned_before: date | None
) -> list[dict[tuple[str, str], int]]:
    """(purchase region, return region) -> cross-store returns touching the scope on either end."""
    params: list[Any] = _args(scope, keys)
    period = _period(params, "x.returned_on", returned_from, returned_before, "::date")
    if scope == "network":
        touches = "'network' AS key"
        where = "true"
    else:
        column = "region_code" if scope == "region" else "code"
        touches = "k.key"
        where = f"(bd.{column} = k.key OR rd.{column} = k.key)"
    keyed = "" if scope == "network" else " CROSS JOIN unnest($1::text[]) AS k(key)"
    sql = f"""
SELECT {touches}, bd.region_code, rd.region_code, count(*)
  FROM cross_store_return x{keyed}
  JOIN store b ON b.id = x.purchase_store_id JOIN district bd ON bd.code = b.district_code
  JOIN store r ON r.id = x.return_store_id JOIN district rd ON rd.code = r.district_code
 WHERE {" AND ".join([where, *period])}
 GROUP BY {"" if scope == "network" else "k.key, "}bd.region_code, rd.region_code"""
    found: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for key, bought_in, returned_in, count in await db.fetch(sql, *params):
        found[key][(bought_in, returned_in)] = count
    return [found[key] for key in keys]


# --- the same figures as parts of a compiled statement (db.compiled) ---------------------------


class TallyRow(NamedTuple):
    """The columns a grouped tally's rows have (each tally fills those it groups by)."""

    key: Any
    count: int
    batch: int
    stars: int
    level: str | None


TALLY = Table("tally", TallyRow, "t.key")
"""Grouped tally rows as a table of the mapping: the compiler reads their fields as its columns."""

_TALLIED = {
    # rows: (FROM without the district, the district each row belongs to)
    "points": ("contact_point p", "p.district_code"),
    "rated_points": (
        "contact_point p JOIN contact_point_current_rating r ON r.contact_point_id = p.id",
        "p.district_code",
    ),
    "memberships": (
        "programme_membership m LEFT JOIN contact_point p ON p.id = m.contact_point_id"
        " LEFT JOIN enterprise e ON e.id = m.enterprise_id",
        "coalesce(p.district_code, e.district_code)",
    ),
    "awards": ("star_award a JOIN contact_point p ON p.id = a.contact_point_id", "p.district_code"),
}


@dataclass(frozen=True)
class Tally:
    """A figure of a scope as SQL: ``measure`` over the ``rows`` of the scope meeting ``where``
    (with ``values`` as its parameters); with ``by``, one row per group, in ``order``.

    Each matches the statistic of the generic path above (``point_stats``, ``award_stats``).
    """

    rows: str
    measure: str = "count(*)"
    where: str = "true"
    values: tuple[Any, ...] = ()
    cast: str = "text[]"
    by: tuple[tuple[str, str], ...] = ()
    """(column of ``TallyRow``, SQL) per group column."""
    order: str = 't.key::text COLLATE "C"'
    """The generic path's order: ``str`` of the key, compared by code point."""

    def source(self, scope: str, key: str | None, params: Params) -> str:
        """``FROM ... WHERE ...`` of the tallied rows of the scope whose key is the SQL ``key``."""
        rows, district = _TALLIED[self.rows]
        values = [params.add(list(v), self.cast) for v in self.values]
        conditions = [self.where.format(*values)]
        if scope == "district":  # no join: the district column is on the rows (and indexed)
            conditions.append(f"{district} = {key}")
        elif scope == "region":
            rows += f" JOIN district d ON d.code = {district}"
            conditions.append(f"d.region_code = {key}")
        return f"FROM {rows} WHERE {' AND '.join(conditions)}"
