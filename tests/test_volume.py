"""Synthetic volume on top of the demo: the counts it adds, its determinism, and that the
published figures survive it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
import pytest

from db.demo import load_demo
from db.volume import add_volume

from .support import create_database, drop_database, unique_name
from .test_demo_figures import FIGURES, JINSHAN_ODR, LIFECYCLE_PATHS, ONLINE_SETTLED, PUDONG_CASES, copy_of

CASES, RETURNS = 5_000, 500

VOLUME_ROWS = """
SELECT number, kind, channel, status, amount_claimed, amount_recovered, opened_at
  FROM "case" WHERE number ~ '-[0-9]{7}$' ORDER BY number"""
COUNTS = """
SELECT (SELECT count(*) FROM "case") AS cases, (SELECT count(*) FROM case_event) AS events,
       (SELECT count(*) FROM cross_store_return) AS returns"""


@pytest.fixture(scope="module")
async def demo_base(admin_dsn: str, template_db: str) -> AsyncIterator[str]:
    """A database with the demo, used only as a template for the copies below."""
    async with copy_of(admin_dsn, template_db, load_demo) as (name, _):
        yield name


@dataclass
class Volumes:
    dsns: list[str]
    before: dict[str, int]
    progress: list[tuple[int, int]]


@pytest.fixture(scope="module")
async def volumes(admin_dsn: str, demo_base: str) -> AsyncIterator[Volumes]:
    """Two copies of the demo given the same volume, the counts before, the progress reported."""
    names = [unique_name("liaison_volume") for _ in range(2)]
    dsns = [await create_database(admin_dsn, n, template=demo_base) for n in names]
    try:
        conn = await asyncpg.connect(dsns[0])
        try:
            before = dict(await conn.fetchrow(COUNTS))
        finally:
            await conn.close()
        calls: list[tuple[int, int]] = []
        await add_volume(dsns[0], cases=CASES, returns=RETURNS, seed=7, progress=lambda d, t: calls.append((d, t)))
        await add_volume(dsns[1], cases=CASES, returns=RETURNS, seed=7)
        yield Volumes(dsns, before, calls)
    finally:
        for n in names:
            await drop_database(admin_dsn, n)


@pytest.fixture(scope="module")
async def db(volumes: Volumes) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(volumes.dsns[0], server_settings={"timezone": "UTC"})
    try:
        yield conn
    finally:
        await conn.close()


async def test_adds_what_it_was_asked(db: asyncpg.Connection, volumes: Volumes) -> None:
    before, after = volumes.before, dict(await db.fetchrow(COUNTS))
    assert after["cases"] - before["cases"] == CASES
    assert after["returns"] - before["returns"] == RETURNS
    assert after["events"] - before["events"] >= 2 * CASES, "every case has its events"
    assert await db.fetchval("SELECT count(*) FROM \"case\" WHERE number ~ '-[0-9]{7}$'") == CASES, (
        "volume numbers are 7 digits, the demo's 6"
    )
    assert volumes.progress[-1] == (CASES + RETURNS, CASES + RETURNS), "progress reports cases and returns"


async def test_same_seed_same_volume(volumes: Volumes) -> None:
    rows = []
    for dsn in volumes.dsns:
        conn = await asyncpg.connect(dsn)
        try:
            rows.append([tuple(r) for r in await conn.fetch(VOLUME_ROWS)])
        finally:
            await conn.close()
    assert len(rows[0]) == CASES and rows[0] == rows[1], "the same seed gives the same numbers and amounts"


async def test_a_second_volume_continues_the_numbers(admin_dsn: str, demo_base: str) -> None:
    name = unique_name("liaison_volume_twice")
    dsn = await create_database(admin_dsn, name, template=demo_base)
    try:
        await add_volume(dsn, cases=300, returns=30, seed=1)
        await add_volume(dsn, cases=300, returns=30, seed=1)
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM \"case\" WHERE number ~ '-[0-9]{7}$'") == 600
            assert await conn.fetchval("SELECT count(*) FROM cross_store_return WHERE code ~ '-[0-9]{7}$'") == 60
        finally:
            await conn.close()
    finally:
        await drop_database(admin_dsn, name)


@pytest.mark.parametrize(("figure", "query", "args", "expected"), FIGURES, ids=[f[0] for f in FIGURES])
async def test_published_figure_survives(
    db: asyncpg.Connection, figure: str, query: str, args: tuple[object, ...], expected: int
) -> None:
    assert await db.fetchval(query, *args) == expected, figure


async def test_case_figures_survive(db: asyncpg.Connection) -> None:
    year = dt.date(2020, 1, 1), dt.date(2020, 12, 31)
    assert await db.fetchval(ONLINE_SETTLED, *year, None) == 466, "466 settled online mediations in 2020"
    assert await db.fetchval(ONLINE_SETTLED, *year, ["after_sales_service", "product_quality"]) == 233, "about half"
    assert await db.fetchval(PUDONG_CASES, ["consultation", "complaint"]) == 20_400, "Pudong's 20,000+"
    assert await db.fetchval(PUDONG_CASES, ["illegal_conduct_lead"]) == 1_050, "Pudong's 1,000+ leads"
    assert [tuple(await db.fetchrow(JINSHAN_ODR, c)) for c in "ABC"] == [(508, 432), (29, 28), (2, 2)], (
        "Jinshan's ODR classes"
    )


async def test_volume_cases_have_consistent_lifecycles(db: asyncpg.Connection) -> None:
    paths = await db.fetch("""
        SELECT c.kind, string_agg(e.status, '>' ORDER BY e.at, e.id) AS path
          FROM "case" c JOIN case_event e ON e.case_id = c.id
         WHERE c.number ~ '-[0-9]{7}$' GROUP BY c.id, c.kind""")
    assert len(paths) == CASES, "every volume case has events"
    assert all(r["path"] in LIFECYCLE_PATHS[r["kind"]] for r in paths), "and a consistent lifecycle"
