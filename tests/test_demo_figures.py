"""The demo data gives back every published figure of shared/domain.md, counted by plain SQL.

Nothing here reads the generator's quotas: each expected number is the published one, or the
split DATA.md documents, so a generator that drifts makes these tests fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest

from db.demo import DemoConflict, demo_is_loaded, generate, load_demo, stream

from .support import create_database, drop_database, unique_name

ROOT = Path(__file__).resolve().parent.parent


@contextlib.asynccontextmanager
async def copy_of(
    admin_dsn: str,
    template: str,
    prepare: Callable[[asyncpg.Connection], Awaitable[object]],
    prefix: str = "liaison_demo_t",
) -> AsyncIterator[tuple[str, str]]:
    """A private copy of ``template``, made ready by ``prepare``: its name and DSN."""
    name = unique_name(prefix)
    dsn = await create_database(admin_dsn, name, template=template)
    try:
        conn = await asyncpg.connect(dsn)
        try:
            await prepare(conn)
        finally:
            await conn.close()
        yield name, dsn
    finally:
        await drop_database(admin_dsn, name)


async def without_demo(conn: asyncpg.Connection) -> None:
    """Empty the demo's tables, in case the template already holds it: the append-only
    cases and events too, by lifting their TRUNCATE guard as an owner must."""
    async with conn.transaction():
        await conn.execute('ALTER TABLE "case" DISABLE TRIGGER case_append_only_truncate')
        await conn.execute("ALTER TABLE case_event DISABLE TRIGGER case_event_append_only_truncate")
        await conn.execute("TRUNCATE street, contact_point, enterprise CASCADE")
        await conn.execute('ALTER TABLE "case" ENABLE TRIGGER case_append_only_truncate')
        await conn.execute("ALTER TABLE case_event ENABLE TRIGGER case_event_append_only_truncate")


@pytest.fixture(scope="module")
async def demo_db(admin_dsn: str, template_db: str) -> AsyncIterator[str]:
    """A copy of the template with the demo loaded (a no-op once the template holds it)."""
    async with copy_of(admin_dsn, template_db, load_demo) as (_, dsn):
        yield dsn


@pytest.fixture(scope="module")
async def db(demo_db: str) -> AsyncIterator[asyncpg.Connection]:
    # UTC on purpose: dates are taken in Shanghai time explicitly where they matter.
    conn = await asyncpg.connect(demo_db, server_settings={"timezone": "UTC"})
    try:
        yield conn
    finally:
        await conn.close()


SHANGHAI_POINTS = """
SELECT count(*) FROM contact_point cp JOIN district d ON d.code = cp.district_code
 WHERE d.region_code = '310000'"""
POINTS_BY_HOST = """
SELECT count(*) FROM contact_point WHERE district_code = $1 AND host_kind = ANY($2::text[])"""
HONOURS = """
SELECT count(*) FROM contact_point_honour h JOIN contact_point cp ON cp.id = h.contact_point_id
 WHERE cp.district_code = $1 AND h.honour = $2"""
AWARDS = "SELECT count(*) FROM star_award WHERE batch = ANY($1::smallint[]) AND stars = ANY($2::smallint[])"
UPGRADES = """
SELECT count(*) FROM star_award a JOIN star_award f ON f.id = a.upgraded_from_id
 WHERE a.batch = 2 AND a.stars = 5 AND f.batch = 1 AND f.stars = 4 AND f.contact_point_id = a.contact_point_id"""
BATCH2_MEMBERS = """
SELECT count(DISTINCT m.contact_point_id)
  FROM programme_membership m JOIN star_award a ON a.contact_point_id = m.contact_point_id AND a.batch = 2
 WHERE m.programme_code = $1 AND m.level IS NOT DISTINCT FROM $2"""
ONLINE_SETTLED = """
SELECT count(*) FROM "case"
 WHERE kind = 'complaint' AND channel = 'online_mediation' AND status = 'settled'
   AND (opened_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN $1 AND $2
   AND category = ANY(coalesce($3::text[], ARRAY[category]))"""
PUDONG_CASES = """
SELECT count(*) FROM "case" c JOIN contact_point cp ON cp.id = c.contact_point_id
 WHERE cp.district_code = '310115' AND c.kind = ANY($1::text[])
   AND (c.opened_at AT TIME ZONE 'Asia/Shanghai')::date BETWEEN '2015-01-01' AND '2019-07-05'"""
JINSHAN_ODR = """
SELECT count(*), count(*) FILTER (WHERE c.status = 'settled')
  FROM "case" c
  JOIN enterprise e ON e.id = c.respondent_enterprise_id
  JOIN programme_membership m ON m.enterprise_id = e.id AND m.programme_code = 'odr'
 WHERE e.district_code = '310116' AND m.odr_class = $1 AND c.channel = 'odr' AND c.kind = 'complaint'"""

FIVE_INTO = ["market_mall", "scenic_area", "school", "barracks", "enterprise"]
ALL_KINDS = ["residential_committee", *FIVE_INTO, "shop", "other"]

# (figure, query, arguments, expected)
FIGURES = [
    ("Shanghai has 8,862 contact points", SHANGHAI_POINTS, (), 8862),
    (
        "every one of Shanghai's 16 districts has contact points",
        "SELECT count(DISTINCT district_code) FROM contact_point WHERE district_code LIKE '31%'",
        (),
        16,
    ),
    ("Pudong has 1,919 contact points", POINTS_BY_HOST, ("310115", ALL_KINDS), 1919),
    (
        "Pudong has 1,288 residential/village committee points",
        POINTS_BY_HOST,
        ("310115", ["residential_committee"]),
        1288,
    ),
    ("Pudong has 456 five-into points", POINTS_BY_HOST, ("310115", FIVE_INTO), 456),
    ("Pudong has 175 other points", POINTS_BY_HOST, ("310115", ["shop", "other"]), 175),
    ("Pudong has 57 municipal demonstration points", HONOURS, ("310115", "municipal_demonstration"), 57),
    ("Pudong has 127 hundred-best points", HONOURS, ("310115", "pudong_hundred_best"), 127),
    ("the 1st batch rated 84 points", AWARDS, ([1], [4, 5]), 84),
    ("the 2nd batch rated 155 points", AWARDS, ([2], [4, 5]), 155),
    ("the 2nd batch has 56 five-star points", AWARDS, ([2], [5]), 56),
    ("the 2nd batch has 99 four-star points", AWARDS, ([2], [4]), 99),
    ("23 first-batch four-star points were upgraded to five", UPGRADES, (), 23),
    ("only those 23 awards are upgrades", "SELECT count(upgraded_from_id) FROM star_award", (), 23),
    ("the batches sum to 239 awards", AWARDS, ([1, 2], [4, 5]), 239),
    ("216 distinct points have a current rating", "SELECT count(*) FROM contact_point_current_rating", (), 216),
    ("25 of the 155 are reassured-consumption excellent", BATCH2_MEMBERS, ("reassured_consumption", "excellent"), 25),
    ("46 of the 155 are reassured-consumption compliant", BATCH2_MEMBERS, ("reassured_consumption", "compliant"), 46),
    ("10 of the 155 are reassured-consumption committed", BATCH2_MEMBERS, ("reassured_consumption", "committed"), 10),
    ("29 of the 155 are offline no-reason-return units", BATCH2_MEMBERS, ("offline_no_reason_return", None), 29),
    ("27 of the 155 are ODR enterprises", BATCH2_MEMBERS, ("odr", None), 27),
    ("1 of the 155 is a Yangtze Delta cross-store return unit", BATCH2_MEMBERS, ("yrd_cross_store_return", None), 1),
]


@pytest.mark.parametrize(("figure", "query", "args", "expected"), FIGURES, ids=[f[0] for f in FIGURES])
async def test_published_figure(
    db: asyncpg.Connection, figure: str, query: str, args: tuple[object, ...], expected: int
) -> None:
    assert await db.fetchval(query, *args) == expected, figure


async def test_466_settled_online_mediations_this_year(db: asyncpg.Connection) -> None:
    year = await db.fetchval(ONLINE_SETTLED, dt.date(2020, 1, 1), dt.date(2020, 12, 31), None)
    to_announcement = await db.fetchval(ONLINE_SETTLED, dt.date(2020, 1, 1), dt.date(2020, 9, 27), None)
    assert year == 466, "466 complaints settled by online mediation in 2020"
    assert to_announcement == 466, "all 466 before the 2nd batch's announcement (2020-09-28)"


async def test_about_half_of_them_after_sales_or_quality(db: asyncpg.Connection) -> None:
    half = await db.fetchval(
        ONLINE_SETTLED, dt.date(2020, 1, 1), dt.date(2020, 12, 31), ["after_sales_service", "product_quality"]
    )
    assert 0.4 * 466 < half < 0.6 * 466, "about half of the 466 are after-sales service or product quality"
    assert half == 233, "DATA.md: exactly 233 of the 466"


async def test_pudong_cases_since_2015(db: asyncpg.Connection) -> None:
    handled = await db.fetchval(PUDONG_CASES, ["consultation", "complaint"])
    leads = await db.fetchval(PUDONG_CASES, ["illegal_conduct_lead"])
    assert handled > 20_000, "Pudong handled 20,000+ consultations and complaints since 2015"
    assert leads > 1_000, "Pudong had 1,000+ leads on illegal conduct since 2015"
    assert (handled, leads) == (20_400, 1_050), "DATA.md: 20,400 and 1,050"


@pytest.mark.parametrize(("odr_class", "complaints", "rate"), [("A", 508, 0.85), ("B", 29, 0.95), ("C", 2, 1.0)])
async def test_jinshan_odr_classes(db: asyncpg.Connection, odr_class: str, complaints: int, rate: float) -> None:
    total, settled = await db.fetchrow(JINSHAN_ODR, odr_class)
    assert total == complaints, f"Jinshan class {odr_class} ODR enterprises had {complaints} complaints"
    # 85 % of 508 is 431.8 and 95 % of 29 is 27.55: the nearest whole numbers, 432 and 28 (DATA.md)
    assert settled == round(complaints * rate), f"Jinshan class {odr_class}: {rate:.0%} settled"


async def test_named_points(db: asyncpg.Connection) -> None:
    named = await db.fetch(
        """
        SELECT cp.name, cp.district_code, cp.host_kind, r.batch
          FROM contact_point cp LEFT JOIN contact_point_current_rating r ON r.contact_point_id = cp.id
         WHERE cp.name = ANY($1::text[]) ORDER BY cp.name""",
        ["上海野生动物园消费维权联络点", "徐汇绿地缤纷城消费维权联络点"],
    )
    assert [tuple(r) for r in named] == [
        ("上海野生动物园消费维权联络点", "310115", "scenic_area", 2),
        ("徐汇绿地缤纷城消费维权联络点", "310104", "market_mall", 2),
    ], "the two named points are 2nd-batch rated, in Pudong and Xuhui"


@pytest.mark.parametrize("fragment", ["红星美凯龙金桥", "上海野生动物园", "金苹果学校", "跨境通", "迪士尼"])
async def test_named_pudong_examples(db: asyncpg.Connection, fragment: str) -> None:
    found = await db.fetchval(
        """
        SELECT (SELECT count(*) FROM contact_point WHERE district_code = '310115' AND name LIKE $1)
             + (SELECT count(*) FROM enterprise WHERE district_code = '310115' AND name LIKE $1)""",
        f"%{fragment}%",
    )
    assert found > 0, f"the Pudong example {fragment} is a contact point or an enterprise"


async def test_yangtze_delta_programme(db: asyncpg.Connection) -> None:
    members, at_launch, last, least_days = await db.fetchrow("""
        SELECT count(DISTINCT enterprise_id), count(*) FILTER (WHERE started_on = '2020-05-14'),
               max(started_on), min(committed_days)
          FROM programme_membership WHERE programme_code = 'yrd_cross_store_return' AND enterprise_id IS NOT NULL""")
    assert members == 82, "an alliance of 82 enterprises"
    assert at_launch == 67, "67 enterprises at the launch on 2020-05-14"
    assert str(last) == "2021-04-30", "the alliance formed on 2021-04-30"
    assert least_days >= 7, "a committed period of at least 7 days"


async def test_cross_store_returns(db: asyncpg.Connection) -> None:
    total, other_region, too_late, too_early = await db.fetchrow("""
        SELECT count(*),
               count(*) FILTER (WHERE left(p.district_code, 2) <> left(r.district_code, 2)),
               count(*) FILTER (WHERE x.returned_on > x.purchased_on + m.committed_days),
               count(*) FILTER (WHERE x.purchased_on < greatest(m.started_on, '2020-05-14'))
          FROM cross_store_return x
          JOIN store p ON p.id = x.purchase_store_id
          JOIN store r ON r.id = x.return_store_id
          JOIN programme_membership m
            ON m.enterprise_id = x.enterprise_id AND m.programme_code = 'yrd_cross_store_return'""")
    assert 1000 <= total <= 10_000, "a few thousand cross-store returns"
    assert other_region > total / 2, "most returns cross a regional border"
    assert too_late == 0, "every return within the enterprise's committed days"
    assert too_early == 0, "no purchase before the enterprise joined"


def _credit_code_ok(code: str) -> bool:
    """GB 32100-2015 check character, written out again here rather than imported."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    total = sum(alphabet.index(c) * (3**i % 31) for i, c in enumerate(code[:17]))
    return alphabet[(31 - total % 31) % 31] == code[17]


async def test_credit_codes_carry_their_check_character(db: asyncpg.Connection) -> None:
    codes = [r[0] for r in await db.fetch("SELECT credit_code FROM enterprise")]
    assert codes and all(_credit_code_ok(c) for c in codes), "unified social credit codes per GB 32100"


LIFECYCLE_PATHS = {
    "complaint": {
        "received",
        "received>accepted",
        "received>accepted>mediating",
        "received>accepted>mediating>settled",
        "received>accepted>mediating>not_settled",
        "received>accepted>mediating>transferred",
        "received>accepted>transferred",
    },
    "consultation": {"received", "received>accepted", "received>accepted>settled", "received>accepted>transferred"},
    "illegal_conduct_lead": {"received", "received>accepted", "received>accepted>transferred"},
}


async def test_case_lifecycles_are_consistent(db: asyncpg.Connection) -> None:
    paths = await db.fetch("""
        SELECT c.kind, e.path, count(*) AS n
          FROM "case" c
          JOIN LATERAL (SELECT string_agg(status, '>' ORDER BY at, id) AS path
                          FROM case_event WHERE case_id = c.id) e ON true
         GROUP BY 1, 2""")
    wrong = [(r["kind"], r["path"], r["n"]) for r in paths if r["path"] not in LIFECYCLE_PATHS[r["kind"]]]
    assert not wrong, "every case follows received -> accepted -> mediating -> an end"
    broken = await db.fetchrow("""
        WITH ev AS (
            SELECT case_id, status, at, lag(at) OVER w AS previous,
                   row_number() OVER w AS step, count(*) OVER (PARTITION BY case_id) AS steps
              FROM case_event WINDOW w AS (PARTITION BY case_id ORDER BY at, id))
        SELECT count(*) FILTER (WHERE ev.step = 1 AND ev.at <> c.opened_at) AS first_not_opening,
               count(*) FILTER (WHERE ev.at <= ev.previous) AS not_increasing,
               count(*) FILTER (WHERE ev.step = ev.steps AND ev.status <> c.status) AS last_not_status,
               count(*) FILTER (WHERE ev.step = ev.steps
                                  AND ev.at IS DISTINCT FROM coalesce(c.closed_at, ev.at)) AS closed_elsewhere
          FROM ev JOIN "case" c ON c.id = ev.case_id""")
    assert dict(broken) == dict.fromkeys(broken.keys(), 0), (
        "events start at opening, increase, and end at the case's status and closing time"
    )


async def test_case_numbers_and_amounts(db: asyncpg.Connection) -> None:
    bad = await db.fetchrow("""
        SELECT count(*) FILTER (WHERE substr(c.number, 2, 6) <> cp.district_code
                                   OR substr(c.number, 9, 4)::int
                                      <> extract(year FROM c.opened_at AT TIME ZONE 'Asia/Shanghai')) AS number,
               count(*) FILTER (WHERE c.status = 'settled' AND c.kind = 'complaint'
                                  AND NOT c.amount_recovered <= c.amount_claimed) AS recovered,
               count(*) FILTER (WHERE c.kind = 'consultation'
                                  AND num_nonnulls(c.amount_claimed, c.amount_recovered) > 0) AS consultation
          FROM "case" c JOIN contact_point cp ON cp.id = c.contact_point_id""")
    assert dict(bad) == {"number": 0, "recovered": 0, "consultation": 0}, (
        "numbers embed district and year; recovered <= claimed; consultations carry no amounts"
    )
    total = await db.fetchval('SELECT count(*) FROM "case"')
    assert 40_000 <= total <= 60_000, "a demo of 40–60k cases"


async def test_demo_is_marked_and_second_load_is_a_no_op(db: asyncpg.Connection) -> None:
    before = await db.fetchval('SELECT count(*) FROM "case"')
    assert await demo_is_loaded(db)
    assert await load_demo(db) is False
    assert await db.fetchval('SELECT count(*) FROM "case"') == before


async def test_identity_sequences_follow_the_loaded_ids(demo_db: str) -> None:
    conn = await asyncpg.connect(demo_db)
    try:
        async with conn.transaction():
            new_id = await conn.fetchval(INSERT_ENTERPRISE + " RETURNING id")
            assert new_id == await conn.fetchval("SELECT max(id) FROM enterprise"), "a new row gets a fresh id"
            raise _Rollback
    except _Rollback:
        pass
    finally:
        await conn.close()


class _Rollback(Exception):
    pass


INSERT_ENTERPRISE = """
INSERT INTO enterprise (credit_code, name, district_code) VALUES ('91310115MA1K00000X', 't', '310115')"""


async def test_concurrent_loads_load_once(admin_dsn: str, template_db: str) -> None:
    async with copy_of(admin_dsn, template_db, without_demo) as (_, dsn):
        a, b = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
        try:
            results = await asyncio.gather(load_demo(a), load_demo(b))
            assert sorted(results) == [False, True], "exactly one of two concurrent loads loads"
            assert await a.fetchval("SELECT count(*) FROM star_award") == 239, "loaded once, not twice"
            assert await demo_is_loaded(b)
        finally:
            await a.close()
            await b.close()


async def test_refuses_to_load_beside_foreign_rows(admin_dsn: str, template_db: str) -> None:
    async with copy_of(admin_dsn, template_db, without_demo) as (_, dsn):
        conn = await asyncpg.connect(dsn)
        try:
            assert not await demo_is_loaded(conn)
            await conn.execute(INSERT_ENTERPRISE)
            with pytest.raises(DemoConflict):
                await load_demo(conn)
        finally:
            await conn.close()


def _digest(data: object) -> str:
    return hashlib.sha256(repr(data).encode()).hexdigest()


def test_generation_is_deterministic() -> None:
    """Same seed, same rows, here and in a process whose string hashing differs (a set the
    generator iterated would show); another seed, other rows."""
    code = "import hashlib; from db.demo import generate; print(hashlib.sha256(repr(generate()).encode()).hexdigest())"
    hash_seed = str(int.from_bytes(os.urandom(2)) + 1)
    other = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONHASHSEED": hash_seed},
        stdout=subprocess.PIPE,
        text=True,
    )
    data = generate()
    assert other.communicate(timeout=120)[0].strip() == _digest(data), "the same seed gives identical rows"
    points = next(rows for table, rows in stream(seed=1) if table == "contact_point")
    assert points != data.contact_point, "the seed matters"
