"""Statistics of the network, a region, a district, a street or (education) a contact point.

Each figure is defined once here: a ``Tally`` (points, awards, honours, memberships,
education) or a statement form of the case and return figures. The compiled statement
renders a figure per scope (``db.compiled``); the loaders' functions take the keys of one
batch (region or district codes, street ids as text, contact point codes; for the whole
network the single key ``NETWORK``) and return one result per key, in the order asked: one
statement per kind of statistic, whatever the number of scopes.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from .model import Table
from .pool import Executor
from .sql import Params

__all__ = [
    "AWARD_TALLIES",
    "BREAKDOWNS",
    "CASE_FIGURES",
    "EDUCATION_TALLIES",
    "HONOUR_TALLY",
    "MEMBERSHIP_TALLY",
    "NETWORK",
    "RETURN_FLOWS",
    "TALLY",
    "Breakdown",
    "CaseStats",
    "Tally",
    "case_figures",
    "case_stats",
    "case_stats_from_rows",
    "point_tallies",
    "return_flows",
    "return_flows_from_rows",
    "return_flows_of",
    "tallied",
]

NETWORK = "network"
"""The scope key of the whole network."""

# What a scope key selects, as an expression over contact point ``p`` joined to district ``d``.
_SCOPE = {
    "network": "'network'",
    "region": "d.region_code",
    "district": "d.code",
    "street": "p.street_id::text",
}


def _scope(scope: str) -> str:
    return _SCOPE[scope]


@dataclass(slots=True)
class CaseStats:
    total: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    by_kind: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    settled_online_mediations: int = 0
    settlement_rate: float | None = None
    median_days_to_close: float | None = None
    amount_claimed: Decimal = Decimal("0.00")
    amount_recovered: Decimal = Decimal("0.00")


def _settlement_rate(settled: str, not_settled: str) -> str:
    """Settled among the cases that ended in mediation (settled or not; transfers are left
    out), null where none did: the one definition, over SQL counts of either status."""
    decided = f"(({settled}) + ({not_settled}))::float8"
    return f"CASE WHEN {decided} > 0 THEN ({settled})::float8 / {decided} END"


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


MEDIAN_DAYS_TO_CLOSE = (
    "round((percentile_cont(0.5) WITHIN GROUP (ORDER BY case_close_hundredths(c.opened_at, c.closed_at))"
    " FILTER (WHERE c.closed_at IS NOT NULL))::numeric / 100, 2)::float8"
)
"""Median days to close: the median of each closed case's days in hundredths (the resolution
the API reports, ``case_close_hundredths``), rounded to 2 places half away from zero. Exact
from a histogram of hundredths; the two middle values of an even count average to a half
hundredth at most, which the rounding settles alike on every path."""
OPENED_ON = "::date::timestamp AT TIME ZONE 'Asia/Shanghai'"
"""A day as the instant it starts in Shanghai: periods of case statistics are Shanghai days."""

STATUSES = ("received", "accepted", "mediating", "settled", "not_settled", "transferred")
KINDS = ("complaint", "consultation", "illegal_conduct_lead")
CHANNELS = ("on_site", "online_mediation", "platform_12315", "odr")
CATEGORIES = (
    "after_sales_service",
    "product_quality",
    "prepaid_consumption",
    "online_purchase_return",
    "mall_after_sales",
    "other",
)
_COUNTED = (
    ("by_status", "status", STATUSES),
    ("by_kind", "kind", KINDS),
    ("by_channel", "channel", CHANNELS),
    ("by_category", "category", CATEGORIES),
)
"""The values counted per case, as the CHECK constraints of ``case`` and the columns of
``case_summary`` (``status_received`` ...) have them."""
_DECIDED = ("settled", "not_settled")
"""The statuses of a case that ended in mediation, settled first (``_settlement_rate``)."""


def _finish(found: dict[str, CaseStats], keys: Sequence[str]) -> list[CaseStats]:
    """One result per key, in the order asked; dictionaries in key order on every path."""
    for stats in found.values():
        for into, _, _ in _COUNTED:
            setattr(stats, into, dict(sorted(getattr(stats, into).items())))
    return [found[key] for key in keys]


def _counted_rows(scope: str, where: str, median: bool = True) -> str:
    """Per scope key, the figures of the cases meeting ``where`` (over ``c``, its contact point
    ``p`` and district ``d``) counted from the rows themselves, as the columns of ``_case_figures``."""
    counted = ", ".join(
        f"count(*) FILTER (WHERE c.{column} = '{value}') AS {column}_{value}"
        for _, column, values in _COUNTED
        for value in values
    )
    return f"""
SELECT {_scope(scope)} AS key, count(*) AS total,
       count(*) FILTER (WHERE c.channel = 'online_mediation' AND c.status = 'settled') AS settled_online_mediations,
       coalesce(sum(c.amount_claimed), 0.00) AS amount_claimed, coalesce(sum(c.amount_recovered), 0.00) AS amount_recovered,
       {_settlement_rate(*(f"count(*) FILTER (WHERE c.status = '{status}')" for status in _DECIDED))} AS settlement_rate,
       {counted}, {MEDIAN_DAYS_TO_CLOSE if median else "NULL::float8"} AS median_days_to_close
  FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id JOIN district d ON d.code = p.district_code
 WHERE {where}
 GROUP BY 1"""


def _read_figures(rows: Sequence[Any], keys: Sequence[str]) -> list[CaseStats]:
    """``CaseStats`` from rows of ``_case_figures``' columns: one per key, in the order asked."""
    found: dict[str, CaseStats] = defaultdict(CaseStats)
    for key, total, online, claimed, recovered, rate, *counts in rows:
        stats = found[key] = CaseStats(total, settled_online_mediations=online, settlement_rate=rate)
        stats.amount_claimed, stats.amount_recovered = claimed, recovered
        stats.median_days_to_close = counts.pop()
        for into, _, values in _COUNTED:
            these, counts = counts[: len(values)], counts[len(values) :]
            getattr(stats, into).update((value, n) for value, n in zip(values, these, strict=True) if n)
    return _finish(found, keys)


async def case_stats_from_rows(
    db: Executor, scope: str, keys: Sequence[str], opened_from: date | None, opened_before: date | None
) -> list[CaseStats]:
    """Cases opened in [from, before) (Shanghai dates) at the scope's contact points, counted
    from the raw rows: the reference that ``case_stats`` must equal (verify mode compares),
    and a street's figures (the summaries are kept per district)."""
    params: list[Any] = _args(scope, keys)
    period = _period(params, "c.opened_at", opened_from, opened_before, OPENED_ON)
    return _read_figures(
        await db.fetch(_counted_rows(scope, " AND ".join([_where_keys(scope), *period])), *params), keys
    )


_SUMMED = ", ".join(
    f"sum(s.{column}_{value}) AS {column}_{value}" for _, column, values in _COUNTED for value in values
)


def _month(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def spans(start: date | None, before: date | None) -> list[tuple[str, date | None, date | None]]:
    """[start, before) as the whole years, whole months and remaining days it covers: (span,
    first start, start after), None for no bound. The summaries hold a row per span."""
    years_from = None if start is None else start if (start.month, start.day) == (1, 1) else date(start.year + 1, 1, 1)
    years_before = None if before is None else date(before.year, 1, 1)
    if years_from is not None and years_before is not None and years_from >= years_before:
        return _months(start, before)
    assert start is None or years_from is not None
    head = [] if start is None or years_from is None else _months(start, years_from)
    tail = [] if before is None or years_before is None else _months(years_before, before)
    return [("year", years_from, years_before), *head, *tail]


def _months(start: date | None, before: date | None) -> list[tuple[str, date | None, date | None]]:
    assert start is not None and before is not None
    months_from = start if start.day == 1 else _next_month(start)
    months_before = _month(before)
    if months_from >= months_before:
        return [("day", start, before)] if start < before else []
    found: list[tuple[str, date | None, date | None]] = [("month", months_from, months_before)]
    if start < months_from:
        found.append(("day", start, months_from))
    if months_before < before:
        found.append(("day", months_before, before))
    return found


def _starts(span: str, first: date, after: date) -> list[date]:
    """The first days of the spans of a kind from ``first`` up to ``after``."""
    found = []
    while first < after:
        found.append(first)
        if span == "day":
            first = date.fromordinal(first.toordinal() + 1)
        else:
            first = _next_month(first) if span == "month" else date(first.year + 1, 1, 1)
    return found


def _in_spans(params: list[Any], alias: str, start: date | None, before: date | None) -> str:
    """The summary rows (``alias``) that add up to [start, before), parameters appended.

    A bounded run of spans is named start by start, so the index bounds the columns after
    ``starts`` too; an unbounded one is a range."""
    found = []
    for span, first, after in spans(start, before):
        if first is not None and after is not None:
            params.append(_starts(span, first, after))
            conditions = [f"{alias}.span = '{span}'", f"{alias}.starts = ANY(${len(params)}::date[])"]
        else:
            conditions = [f"{alias}.span = '{span}'", *_period(params, f"{alias}.starts", first, after, "::date")]
        found.append("(" + " AND ".join(conditions) + ")")
    return "(" + (" OR ".join(found) or "false") + ")"


def _summary_key(scope: str) -> str:
    """What a scope key selects, over a summary row ``s`` (with its district ``d`` for a region)."""
    return "s.district_code" if scope == "district" else _scope(scope)


def _summary_rows(table: str, scope: str) -> str:
    """The rows of a summary ``table`` as ``s``, joined to their district ``d`` when a region asks."""
    return f"{table} s JOIN district d ON d.code = s.district_code" if scope == "region" else f"{table} s"


def _case_figures(scope: str, where: str, median: bool = True) -> str:
    """Per scope key, the figures of the summary rows meeting ``where`` (over ``s``, and its
    district ``d`` for a region), in one pass over them: key, total, settled_online_mediations,
    amount_claimed, amount_recovered, settlement_rate, a column per counted value
    (``status_received`` ...), then median_days_to_close (null unless ``median``).

    The median: ``case_close_median`` (migration 0020) over the histograms of the same
    summary rows, named by the pass (district, span, starts): whole days to close say which
    days hold the two middle values, and only those days' hundredths are read."""
    key = _summary_key(scope)
    days = (
        "case_close_median(array_agg(s.district_code), array_agg(s.span), array_agg(s.starts))"
        if median
        else "NULL::float8"
    )
    return f"""
SELECT {key} AS key, sum(s.cases) AS total, sum(s.settled_online_mediations) AS settled_online_mediations,
       sum(s.amount_claimed) AS amount_claimed, sum(s.amount_recovered) AS amount_recovered,
       {_settlement_rate(*(f"sum(s.status_{status})" for status in _DECIDED))} AS settlement_rate, {_SUMMED},
       {days} AS median_days_to_close
  FROM {_summary_rows("case_summary", scope)}
 WHERE {where}
 GROUP BY 1"""


async def case_stats(
    db: Executor, scope: str, keys: Sequence[str], opened_from: date | None, opened_before: date | None
) -> list[CaseStats]:
    """Cases opened in [from, before) (Shanghai dates) at the scope's contact points, read
    from the summaries (``db.summaries``): the same figures as ``case_stats_from_rows``, in
    one statement that reads a row per district and span (year, month or day)."""
    params: list[Any] = _args(scope, keys)
    keyed = "true" if scope == "network" else f"{_summary_key(scope)} = ANY($1::text[])"
    where = f"{keyed} AND {_in_spans(params, 's', opened_from, opened_before)}"
    return _read_figures(await db.fetch(_case_figures(scope, where), *params), keys)


_RETURNED = {
    # rows: FROM, the districts of the purchase and return stores, the period's column (None:
    # summary spans), what counts
    "rows": (
        "cross_store_return x JOIN store b ON b.id = x.purchase_store_id JOIN store r ON r.id = x.return_store_id",
        "b.district_code",
        "r.district_code",
        "x.returned_on",
        "count(*)",
    ),
    "summary": (
        "return_summary x",
        "x.purchase_district_code",
        "x.return_district_code",
        None,
        "sum(x.returns)::bigint",
    ),
}


def _flows(source: str, scope: str, keyed: str, period: str) -> str:
    """Per scope key, the returns of ``source`` (rows or summary) in ``period`` by (purchase
    region, return region): key, from_region_code, to_region_code, count. ``keyed`` is the
    FROM item giving the scope's keys as ``k.key`` (none for the network)."""
    rows, bought_in, returned_in, _, measure = _RETURNED[source]
    if scope == "network":
        touches, where = "'network'", "true"
    else:
        column = "region_code" if scope == "region" else "code"
        touches, where = "k.key", f"(bd.{column} = k.key OR rd.{column} = k.key)"
    return f"""
SELECT {touches} AS key, bd.region_code AS from_region_code, rd.region_code AS to_region_code, {measure} AS count
  FROM {rows}{keyed}
  JOIN district bd ON bd.code = {bought_in} JOIN district rd ON rd.code = {returned_in}
 WHERE {where} AND {period}
 GROUP BY 1, 2, 3"""


async def _return_flows(
    db: Executor, source: str, scope: str, keys: Sequence[str], start: date | None, before: date | None
) -> list[dict[tuple[str, str], int]]:
    day = _RETURNED[source][3]
    params: list[Any] = _args(scope, keys)
    period = _period(params, day, start, before, "::date") if day else [_in_spans(params, "x", start, before)]
    keyed = "" if scope == "network" else " CROSS JOIN unnest($1::text[]) AS k(key)"
    sql = _flows(source, scope, keyed, " AND ".join(["true", *period]))
    found: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for key, bought, returned, count in await db.fetch(sql, *params):
        found[key][(bought, returned)] = count
    return [dict(sorted(found[key].items())) for key in keys]


async def return_flows(
    db: Executor, scope: str, keys: Sequence[str], returned_from: date | None, returned_before: date | None
) -> list[dict[tuple[str, str], int]]:
    """(purchase region, return region) -> cross-store returns touching the scope on either
    end, read from the summary per span and pair of districts (``db.summaries``)."""
    return await _return_flows(db, "summary", scope, keys, returned_from, returned_before)


async def return_flows_from_rows(
    db: Executor, scope: str, keys: Sequence[str], returned_from: date | None, returned_before: date | None
) -> list[dict[tuple[str, str], int]]:
    """The same as ``return_flows``, counted from the raw rows: its reference."""
    return await _return_flows(db, "rows", scope, keys, returned_from, returned_before)


# --- figures as SQL, which the compiled statement renders per scope and the loaders per batch ---------


class TallyRow(NamedTuple):
    """The columns a grouped tally's rows have (each tally fills those it groups by)."""

    key: Any = None
    count: int = 0  # type: ignore[assignment]  # the GraphQL field's name; shadows tuple.count, not called here
    batch: int | None = None
    stars: int | None = None
    level: str | None = None
    tier: int | None = None
    kind: str | None = None
    activities: int | None = None
    attendance: int | None = None
    copies: int | None = None


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
    "honours": ("contact_point_honour h JOIN contact_point p ON p.id = h.contact_point_id", "p.district_code"),
    "education": ("education_activity a JOIN contact_point p ON p.id = a.contact_point_id", "p.district_code"),
}


@dataclass(frozen=True)
class Tally:
    """A figure of a scope as SQL: ``measure`` over the ``rows`` of the scope meeting ``where``
    (with ``values`` as its parameters); with ``by``, one row per group, in ``order``.

    The one definition of the figure: the compiled statement renders it per scope
    (``db.compiled``), the loaders for a batch of scopes (``tallied``).
    """

    rows: str
    measure: str = "count(*)"
    where: str = "true"
    values: tuple[Any, ...] = ()
    cast: str = "text[]"
    by: tuple[tuple[str, str], ...] = ()
    """(column of ``TallyRow``, SQL) per group column."""
    order: str = 't.key::text COLLATE "C"'
    """The order of the groups over ``t``: by default ``str`` of the key, by code point."""
    also: tuple[tuple[str, str], ...] = ()
    """With ``by``: (column of ``TallyRow``, SQL) per further measure of each group."""
    dated: str | None = None
    """The rows' day, which ``during`` bounds."""
    period: tuple[date | None, date | None] = (None, None)

    def during(self, start: date | None, before: date | None) -> Tally:
        """The figure over the rows dated in [start, before) (None: unbounded)."""
        return replace(self, period=(start, before))

    @property
    def tables(self) -> frozenset[str]:
        """The tables (and views) its rows are read from, whatever the scope but a region's
        (which joins ``district`` too): what a kept answer's versions must cover (``db.plan.reads``)."""
        return frozenset(re.findall(r"(?:^|JOIN )(\w+) \w+", _TALLIED[self.rows][0]))

    def source(self, scope: str, key: str | None, params: Params) -> str:
        """``FROM ... WHERE ...`` of the tallied rows of the scope whose key is the SQL ``key``."""
        rows, district = _TALLIED[self.rows]
        values = [params.add(list(v), self.cast) for v in self.values]
        conditions = [self.where.format(*values)]
        if self.dated is not None:
            conditions += _period(params.values, self.dated, *self.period, "::date")
        if scope == "district":  # no join: the district column is on the rows (and indexed)
            conditions.append(f"{district} = {key}")
        elif scope == "street":  # every tally's rows have their contact point as ``p``
            conditions.append(f"p.street_id = {key}")
        elif scope == "region":
            rows += f" JOIN district d ON d.code = {district}"
            conditions.append(f"d.region_code = {key}")
        elif scope == "contact_point":  # as the street
            conditions.append(f"p.code = {key}")
        return f"FROM {rows} WHERE {' AND '.join(conditions)}"

    @property
    def columns(self) -> tuple[str, ...]:
        """The ``TallyRow`` columns of its groups."""
        return (*(column for column, _ in self.by), "count", *(column for column, _ in self.also))

    def value(self, scope: str, key: str | None, params: Params) -> str:
        """The figure of the scope whose key is the SQL ``key``: one value, or with ``by`` the
        groups as rows of ``TallyRow``'s columns (those in ``by``, and count), in no order."""
        source = self.source(scope, key, params)
        if not self.by:
            return f"SELECT {self.measure} {source}"
        groups = ", ".join(f"{sql} AS {column}" for column, sql in self.by)
        measures = "".join(f", {sql} AS {column}" for column, sql in self.also)
        return (
            f"SELECT {groups}, {self.measure} AS count{measures} {source}"
            f" GROUP BY {', '.join(sql for _, sql in self.by)}"
        )


async def tallied(
    db: Executor, scope: str, keys: Sequence[str], tallies: tuple[tuple[str, Tally], ...]
) -> list[dict[str, Any]]:
    """The figures of each scope key of the batch (a street's id as text) by name: a tally's
    value, or with ``by`` its groups as ``TallyRow``s in ``order``. One statement: for each
    key, each figure's SQL as the compiled statement renders it."""
    params = Params()
    listed = params.add(list(keys), "text[]")
    each = None if scope == NETWORK else "k.key::bigint" if scope == "street" else "k.key"
    columns = []
    for _, tally in tallies:
        value = tally.value(scope, each, params)
        if tally.by:
            fields = ", ".join(f"t.{column}" for column in tally.columns)
            value = f"ARRAY(SELECT ROW({fields}) FROM ({value}) t ORDER BY {tally.order})"
        columns.append(f"({value})")
    sql = f"SELECT k.key, {', '.join(columns)} FROM unnest({listed}) k(key)"
    found = {key: values for key, *values in await db.fetch(sql, *params.values)}
    return [
        {
            name: [TallyRow(**dict(zip(tally.columns, group, strict=True))) for group in value] if tally.by else value
            for (name, tally), value in zip(tallies, found[key], strict=True)
        }
        for key in keys
    ]


class CaseFiguresRow(NamedTuple):
    """The columns of ``case_figures``' row that ``CaseStats`` fields read as they are."""

    total: int
    settled_online_mediations: int
    settlement_rate: float | None
    median_days_to_close: float | None
    amount_claimed: Decimal
    amount_recovered: Decimal


CASE_FIGURES = Table("case_figures", CaseFiguresRow, "t.total")
"""Case statistics of a scope as one row of the mapping: the compiler reads their fields as its columns."""


class ReturnFlowRow(NamedTuple):
    from_region_code: str
    to_region_code: str
    count: int  # type: ignore[assignment]  # the GraphQL field's name; shadows tuple.count, not called here


RETURN_FLOWS = Table("return_flows", ReturnFlowRow, 't.from_region_code COLLATE "C", t.to_region_code COLLATE "C"')
"""Return flows of a scope as rows of the mapping, in the generic path's order (the regions' codes)."""


def case_figures(
    scope: str, key: str | None, start: date | None, before: date | None, params: Params, median: bool
) -> str:
    """One row of the statistics of the scope whose key is the SQL ``key`` over [start, before),
    as ``case_stats`` reads them (a street's from the rows): ``CaseFiguresRow``'s columns and
    one per counted value (``status_received`` ...), zeros and nulls where no case counts."""
    if scope == "street":  # counted from the rows, as ``case_stats_from_rows`` counts a street's
        period = " AND ".join(["true", *_period(params.values, "c.opened_at", start, before, OPENED_ON)])
        figures = _counted_rows(scope, f"p.street_id = {key} AND {period}", median)
    else:
        period = _in_spans(params.values, "s", start, before)
        where = period if key is None else f"{_summary_key(scope)} = {key} AND {period}"
        figures = _case_figures(scope, where, median)
    counted = [f"{column}_{value}" for _, column, values in _COUNTED for value in values]
    totals = ["total", "settled_online_mediations", *counted]
    columns = [f"coalesce(f.{c}, 0)::bigint AS {c}" for c in totals]
    columns += [f"coalesce(f.{c}, 0.00) AS {c}" for c in ("amount_claimed", "amount_recovered")]
    columns += ["f.median_days_to_close", "f.settlement_rate"]
    return f"SELECT {', '.join(columns)} FROM (SELECT) one LEFT JOIN ({figures}) f ON true"


def return_flows_of(scope: str, key: str | None, start: date | None, before: date | None, params: Params) -> str:
    """The return flows of the scope whose key is the SQL ``key`` over [start, before), from
    the summaries as ``return_flows`` reads them: rows of ``ReturnFlowRow``'s columns."""
    keyed = "" if key is None else f" CROSS JOIN (SELECT {key}) AS k(key)"
    return _flows("summary", scope, keyed, _in_spans(params.values, "x", start, before))


@dataclass(frozen=True)
class Breakdown:
    """Cases per value of ``column`` (``by_status`` ...), from the row of ``case_figures``
    (alias ``t``): rows of ``TALLY`` (key, count) for the values counted at least once, in
    the generic path's order (``str`` of the value)."""

    column: str
    values: tuple[str, ...]

    def rows(self) -> str:
        ordered = enumerate(sorted(self.values))
        listed = ", ".join(f"('{value}', t.{self.column}_{value}, {n})" for n, value in ordered)
        return f"SELECT v.key, v.count, v.o FROM (VALUES {listed}) v (key, count, o) WHERE v.count > 0"


BREAKDOWNS = {into: Breakdown(column, values) for into, column, values in _COUNTED}
"""Each ``CaseStats`` list of counts by the attribute it fills (``by_status`` ...)."""


def point_tallies(five_into: Collection[str]) -> dict[str, Tally]:
    """``ContactPointStats``' figures (``five_into``: the stored host kinds that count as five-into)."""
    return {
        "total": Tally("points"),
        "five_into": Tally("points", where="p.host_kind = ANY({})", values=(tuple(sorted(five_into)),)),
        "by_host_kind": Tally("points", by=(("key", "p.host_kind"),)),
        "by_current_stars": Tally("rated_points", by=(("key", "r.stars"),)),
    }


AWARD_TALLIES = {
    "total": Tally("awards"),
    "upgrades": Tally("awards", where="a.upgraded_from_id IS NOT NULL"),
    "distinct_rated_points": Tally("awards", measure="count(DISTINCT a.contact_point_id)"),
    "by_batch": Tally("awards", by=(("batch", "a.batch"), ("stars", "a.stars")), order="t.batch, t.stars"),
}
"""``StarAwardStats``' figures."""

HONOUR_TALLY = Tally("honours", by=(("key", "h.honour"), ("tier", "h.tier")), order='t.tier, t.key COLLATE "C"')
"""Contact points by honour and tier (三级引领), the tiers first to last."""

MEMBERSHIP_TALLY = Tally(
    "memberships",
    by=(("key", "m.programme_code"), ("level", "m.level")),
    # Levels by code point, none last.
    order='t.key COLLATE "C", t.level IS NULL, t.level COLLATE "C"',
)
"""Memberships of contact points and enterprises by programme and level."""


def _education(measure: str = "count(*)", **more: Any) -> Tally:
    return Tally("education", measure, dated="a.held_on", **more)


_ATTENDANCE = "coalesce(sum(a.attendance), 0)::bigint"
_COPIES = "coalesce(sum(a.copies), 0)::bigint"
EDUCATION_TALLIES = {
    "activities": _education(),
    "attendance": _education(_ATTENDANCE),
    "copies": _education(_COPIES),
    "training_attendance": _education(_ATTENDANCE, where="a.kind = 'training'"),
    "by_kind": _education(
        by=(("kind", "a.kind"),),
        also=(("activities", "count(*)"), ("attendance", _ATTENDANCE), ("copies", _COPIES)),
        order='t.kind COLLATE "C"',
    ),
}
"""``EducationStats``' figures over the activities held at the scope's contact points, each
figure ``during`` the period asked for; Pudong's published 培训人次 is the training attendance."""
