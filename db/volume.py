"""Synthetic volume on top of the demo: more cases (with their events) and cross-store
returns, for benchmarks. Deterministic for a seed over the same demo.

Volume never enters a published figure's slice: no online mediation in 2020, no Pudong case
opened before the article of 2019-07-05 (its cases start on 2019-07-06), no complaint against
a classed Jinshan ODR enterprise, nothing at partner cities' points. Case and return numbers
continue from 1,000,000 per district and year (the demo's stay below), so nothing collides,
and calling this again adds more.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from datetime import date

import asyncpg

from .demo import plan
from .demo.cases import CaseDraft, CaseWriter, PointPicker, ordinary_case
from .demo.draw import Weighted, day_between
from .demo.enterprises import Enterprises, YrdMember
from .demo.load import read_ahead
from .demo.returns import cross_store_returns
from .errors import translate_errors
from .records import Case, CaseEvent, ContactPoint, CrossStoreReturn, Store

__all__ = ["VOLUME_FIRST_NUMBER", "add_volume"]

VOLUME_FIRST_NUMBER = 1_000_000
CHUNK = 50_000

POINTS = """
SELECT id, code, name, name_en, district_code, host_kind, address, established_on,
       uses_wecom, has_online_mediation, street_id
  FROM contact_point cp WHERE district_code = ANY($1::text[]) ORDER BY id"""
# Jinshan's classed ODR enterprises are left out: their complaints are a published figure.
ENTERPRISES = """
SELECT e.id, e.district_code,
       EXISTS (SELECT 1 FROM programme_membership m WHERE m.enterprise_id = e.id AND m.programme_code = 'odr') AS odr,
       EXISTS (SELECT 1 FROM programme_membership m
                WHERE m.enterprise_id = e.id AND m.programme_code = 'odr' AND m.odr_class IS NOT NULL) AS classed
  FROM enterprise e ORDER BY e.id"""
YRD_MEMBERS = """
SELECT m.enterprise_id, min(m.started_on) AS started_on, min(m.committed_days) AS committed_days,
       array_agg(s.id ORDER BY s.id) AS store_ids
  FROM programme_membership m JOIN store s ON s.enterprise_id = m.enterprise_id
 WHERE m.programme_code = 'yrd_cross_store_return' AND m.enterprise_id IS NOT NULL
 GROUP BY m.enterprise_id HAVING count(s.id) > 1 ORDER BY m.enterprise_id"""
STORES = """
SELECT id, code, enterprise_id, brand_id, name, name_en, district_code, address
  FROM store WHERE id = ANY($1::bigint[]) ORDER BY id"""
CASE_NUMBERS = """
SELECT substr(number, 2, 6) AS district, substr(number, 9, 4)::int AS year, max(substr(number, 14)::int) AS last
  FROM "case" GROUP BY 1, 2"""
RETURN_NUMBERS = """
SELECT substr(code, 5, 4)::int AS year, max(substr(code, 10)::int) AS last FROM cross_store_return GROUP BY 1"""
# Case ids are chosen here (events refer to them), so a block is reserved from the identity
# sequence while no one else can insert; events and returns take ids from the database.
LOCK_CASES = 'LOCK TABLE "case" IN EXCLUSIVE MODE'
RESERVE_CASE_IDS = """
SELECT setval(pg_get_serial_sequence('"case"', 'id'),
              greatest(nextval(pg_get_serial_sequence('"case"', 'id')), (SELECT coalesce(max(id), 0) + 1 FROM "case"))
              + $1 - 1) - $1 + 1"""

_CASE_COLUMNS = list(Case._fields)
_EVENT_COLUMNS = list(CaseEvent._fields[1:])
_RETURN_COLUMNS = list(CrossStoreReturn._fields[1:])
_KINDS = Weighted({"consultation": 55, "complaint": 40, "illegal_conduct_lead": 5})


def _first_day(district: str) -> date:
    return plan.PUDONG_AFTER[0] if district == plan.PUDONG else plan.OTHER_CASES_FROM


def _case_chunks(
    rng: random.Random, points: list[ContactPoint], companies: Enterprises, writer: CaseWriter, cases: int
) -> Iterator[tuple[list[Case], list[CaseEvent]]]:
    by_district: dict[str, list[ContactPoint]] = {}
    for p in points:
        by_district.setdefault(p.district_code, []).append(p)
    pickers = {d: PointPicker(ps) for d, ps in by_district.items()}
    districts = Weighted({d: len(ps) for d, ps in by_district.items()})
    last = plan.CASES_AS_OF.date()
    for at in range(0, cases, CHUNK):
        drafts: list[CaseDraft] = []
        for _ in range(min(CHUNK, cases - at)):
            district = districts(rng)
            day = day_between(rng, _first_day(district), last, skew=0.8)
            drafts.append(ordinary_case(rng, pickers[district].pick(rng, day), day, _KINDS(rng), companies))
        drafts.sort(key=lambda d: d.opened_at)
        yield writer.write(rng, drafts)


async def _companies(conn: asyncpg.Connection) -> Enterprises:
    companies = Enterprises()
    for row in await conn.fetch(ENTERPRISES):
        if row["classed"]:
            continue
        companies.respondents.setdefault(row["district_code"], []).append(row["id"])
        if row["odr"]:
            companies.odr.append(row["id"])
    return companies


async def _add_cases(conn: asyncpg.Connection, rng: random.Random, cases: int, report: Callable[[int], None]) -> None:
    points = [ContactPoint(*r) for r in await conn.fetch(POINTS, list(plan.POINTS))]
    companies = await _companies(conn)
    async with conn.transaction():
        await conn.execute(LOCK_CASES)
        first_id = await conn.fetchval(RESERVE_CASE_IDS, cases)
    numbers = {
        (r["district"], r["year"]): r["last"]
        for r in await conn.fetch(CASE_NUMBERS)
        if r["last"] >= VOLUME_FIRST_NUMBER
    }
    writer = CaseWriter(plan.CASES_AS_OF, next_id=first_id, numbers=numbers, first_number=VOLUME_FIRST_NUMBER)
    async with contextlib.aclosing(read_ahead(_case_chunks(rng, points, companies, writer, cases))) as chunks:
        async for case_rows, events in chunks:
            async with conn.transaction():
                await conn.copy_records_to_table("case", records=case_rows, columns=_CASE_COLUMNS)
                await conn.copy_records_to_table("case_event", records=(e[1:] for e in events), columns=_EVENT_COLUMNS)
            report(len(case_rows))


async def _add_returns(
    conn: asyncpg.Connection, rng: random.Random, returns: int, report: Callable[[int], None]
) -> None:
    members = [
        YrdMember(r["enterprise_id"], r["started_on"], r["committed_days"], tuple(r["store_ids"]))
        for r in await conn.fetch(YRD_MEMBERS)
    ]
    if not members:
        raise ValueError("no Yangtze Delta member has two stores: load the demo first")
    stores = {r["id"]: Store(*r) for r in await conn.fetch(STORES, [i for m in members for i in m.store_ids])}
    numbers = {r["year"]: r["last"] for r in await conn.fetch(RETURN_NUMBERS) if r["last"] >= VOLUME_FIRST_NUMBER}

    def chunks() -> Iterator[list[CrossStoreReturn]]:
        for at in range(0, returns, CHUNK):
            yield cross_store_returns(
                rng, members, stores, min(CHUNK, returns - at), numbers=numbers, first_number=VOLUME_FIRST_NUMBER
            )

    async with contextlib.aclosing(read_ahead(chunks())) as drawn:
        async for rows in drawn:
            async with conn.transaction():
                await conn.copy_records_to_table(
                    "cross_store_return", records=(r[1:] for r in rows), columns=_RETURN_COLUMNS
                )
            report(len(rows))


async def add_volume(
    dsn: str, *, cases: int, returns: int, seed: int, progress: Callable[[int, int], None] | None = None
) -> None:
    """Add ``cases`` cases and ``returns`` cross-store returns, committing every 50,000;
    ``progress(done, total)`` is called after each chunk, counting cases and returns together."""
    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data, not secrets
    total, done = cases + returns, 0

    def report(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress(done, total)

    with translate_errors():
        conn = await asyncpg.connect(dsn)
    try:
        if cases:
            await _add_cases(conn, rng, cases, report)
        if returns:
            await _add_returns(conn, rng, returns, report)
    finally:
        await conn.close()
