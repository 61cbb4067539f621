"""Case statistics and return flows read from summaries: equal to the raw rows' figures for
every scope and period, kept exact by every writer (plain SQL included), a corrupted row
found by ``stats check`` and repaired by ``stats rebuild``, and nothing left behind by a
writer that fails."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
from typing import Any

import asyncpg
import pytest

from db import stats, summaries
from schema.compiled import HEADER

from .support import LIAISON, data, service

PERIODS = [
    (None, None),
    (dt.date(2020, 1, 1), dt.date(2021, 1, 1)),
    (dt.date(2019, 3, 5), dt.date(2019, 4, 2)),
    (dt.date(2020, 9, 27), None),
    (None, dt.date(2017, 6, 1)),
    (dt.date(2030, 1, 1), dt.date(2030, 2, 1)),
    (dt.date(2018, 11, 17), dt.date(2020, 2, 10)),  # days, months, a whole year, months, days
    (dt.date(2019, 12, 1), dt.date(2020, 3, 1)),
    (dt.date(2016, 1, 1), None),
]


async def _scopes(db: asyncpg.Connection) -> list[tuple[str, list[str]]]:
    regions = [r[0] for r in await db.fetch("SELECT code FROM region ORDER BY code")]
    districts = [r[0] for r in await db.fetch("SELECT code FROM district ORDER BY code")]
    return [("network", [stats.NETWORK]), ("region", regions), ("district", districts)]


async def _differing(db: asyncpg.Connection) -> list[str]:
    """Each scope, period and statistic whose summary figures are not the raw rows' (as repr)."""
    found = []
    for scope, keys in await _scopes(db):
        for start, before in PERIODS:
            for read, reference in (
                (stats.case_stats, stats.case_stats_from_rows),
                (stats.return_flows, stats.return_flows_from_rows),
            ):
                if repr(await read(db, scope, keys, start, before)) != repr(
                    await reference(db, scope, keys, start, before)
                ):
                    found.append(f"{read.__name__} {scope} {start}..{before}")
    return found


async def test_statistics_from_summaries_are_the_raw_rows_figures(demo_dsn: str) -> None:
    db = await asyncpg.connect(demo_dsn)
    try:
        assert await _differing(db) == []
        assert await summaries.check(db) == []
        network = (await stats.case_stats(db, "network", [stats.NETWORK], None, None))[0]
        assert network.total == await db.fetchval('SELECT count(*) FROM "case"')
        assert network.median_days_to_close is not None and network.by_status and network.by_category
        flows = (await stats.return_flows(db, "network", [stats.NETWORK], None, None))[0]
        assert sum(flows.values()) == await db.fetchval("SELECT count(*) FROM cross_store_return")
    finally:
        await db.close()


STATS_QUERY = """
query ($from: Date, $before: Date) {
  networkStats { ...figures }
  regions { code stats { ...figures } }
  region(code: "310000") { districts { code stats { ...figures } } }
}
fragment figures on Stats {
  cases(period: {from: $from, before: $before}) {
    total settledOnlineMediations settlementRate medianDaysToClose amountClaimed amountRecovered
    byStatus { status count } byKind { kind count } byChannel { channel count } byCategory { category count }
  }
  crossStoreReturns(period: {from: $from, before: $before}) { fromRegion { code } toRegion { code } count }
}"""


def test_the_api_serves_the_same_figures_on_every_path(demo_dsn: str) -> None:
    """Verify mode compares summaries with the raw rows per statistic (``service`` fails the
    test on a mismatch); the compiled and dataloader settings serve the same answer."""
    answers = {}
    for execution in ("verify", "compiled", "dataloader"):
        with service(demo_dsn, LIAISON_EXECUTION=execution) as client:
            answers[execution] = [
                data(client, STATS_QUERY, **{"from": s and s.isoformat(), "before": b and b.isoformat()})
                for s, b in PERIODS
            ]
    assert answers["verify"] == answers["compiled"] == answers["dataloader"]
    assert answers["verify"][0]["networkStats"]["cases"]["total"] > 0


async def _insert_cases(db: asyncpg.Connection, count: int, year: int = 2099) -> None:
    """``count`` new cases copied from existing ones (new numbers), in one statement."""
    await db.execute(
        f"""
INSERT INTO "case" (number, kind, channel, category, status, contact_point_id, amount_claimed, amount_recovered,
                    opened_at, closed_at)
SELECT 'C' || substr(number, 2, 6) || '-{year}-' || lpad(row_number() OVER (ORDER BY id)::text, 6, '0'),
       kind, channel, category, status, contact_point_id, amount_claimed, amount_recovered,
       opened_at + interval '3 hours', closed_at + interval '5 hours 7 minutes'
  FROM "case" ORDER BY id LIMIT $1""",
        count,
    )


WRITES = [
    # each a plain SQL write some writer might make; the summaries must follow every one
    "UPDATE \"case\" SET status = 'settled', closed_at = opened_at + interval '2 days 3 hours'"
    " WHERE id IN (SELECT id FROM \"case\" WHERE status = 'mediating' ORDER BY id LIMIT 40)",
    "UPDATE \"case\" SET status = 'mediating', closed_at = NULL"
    " WHERE id IN (SELECT id FROM \"case\" WHERE status = 'not_settled' ORDER BY id LIMIT 30)",
    "UPDATE \"case\" SET closed_at = closed_at + interval '17 hours' WHERE id % 97 = 0 AND closed_at IS NOT NULL",
    'UPDATE "case" SET amount_claimed = coalesce(amount_claimed, 0) + 12.34, amount_recovered = 1.01 WHERE id % 89 = 0',
    "UPDATE \"case\" SET kind = 'complaint', category = 'prepaid_consumption', channel = 'online_mediation'"
    " WHERE id % 83 = 0",
    "UPDATE \"case\" SET opened_at = opened_at - interval '400 days' WHERE id % 79 = 0",
    'UPDATE "case" SET contact_point_id = (SELECT max(id) FROM contact_point) WHERE id % 73 = 0',
    "UPDATE \"case\" SET summary = summary || '.' WHERE id % 71 = 0",
    'DELETE FROM case_event WHERE case_id IN (SELECT id FROM "case" WHERE id % 67 = 0);'
    ' DELETE FROM "case" WHERE id % 67 = 0',
    "DELETE FROM cross_store_return WHERE id % 7 = 0",
    "UPDATE cross_store_return SET returned_on = returned_on + 1 WHERE id % 5 = 0",
    "UPDATE cross_store_return SET return_store_id = purchase_store_id, purchase_store_id = return_store_id"
    " WHERE id % 3 = 0",
    "INSERT INTO cross_store_return (code, enterprise_id, purchase_store_id, return_store_id, kind, purchased_on,"
    " returned_on, amount) SELECT 'YRD-2099-' || lpad(id::text, 6, '0'), enterprise_id, purchase_store_id,"
    " return_store_id, kind, purchased_on, returned_on, amount FROM cross_store_return WHERE id % 11 = 0",
    # a contact point and a store moving district (their codes carry it)
    "UPDATE contact_point SET district_code = '310104', code = 'CP310104-99001',"
    " street_id = (SELECT min(s.id) FROM street s WHERE s.district_code = '310104')"
    ' WHERE id = (SELECT c.contact_point_id FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id'
    "             WHERE p.district_code = '310101' ORDER BY c.id LIMIT 1)",
    "UPDATE store SET district_code = '310104', code = 'ST310104-99001'"
    " WHERE id = (SELECT purchase_store_id FROM cross_store_return ORDER BY id LIMIT 1)",
]


async def test_summaries_follow_every_write(conn: asyncpg.Connection) -> None:
    # Any change plain SQL can make, closed cases included: without the lifecycle's guard and
    # audit and append-only events (0008), tested elsewhere, so only the summaries' triggers act.
    await conn.execute('ALTER TABLE "case" DISABLE TRIGGER case_guard, DISABLE TRIGGER case_audit')
    await conn.execute("ALTER TABLE case_event DISABLE TRIGGER case_event_append_only")
    before = await conn.fetchval("SELECT sum(cases) FROM case_summary WHERE span = 'year'")
    await _insert_cases(conn, 500)
    assert await conn.fetchval("SELECT sum(cases) FROM case_summary WHERE span = 'year'") == before + 500
    assert await summaries.check(conn) == []
    await conn.execute(
        'INSERT INTO "case" (number, kind, channel, category, status, contact_point_id, opened_at)'
        " VALUES ('C310101-2098-000001', 'consultation', 'on_site', 'other', 'received', 1, now())"
    )
    for write in WRITES:
        changed = await conn.fetchval("SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM case_summary t")
        await conn.execute(write)
        assert await summaries.check(conn) == [], write
        if write.startswith('UPDATE "case" SET status'):
            assert changed != await conn.fetchval(
                "SELECT md5(string_agg(t::text, ',' ORDER BY t::text)) FROM case_summary t"
            )
    assert await _differing(conn) == []


async def test_the_median_from_the_histogram_is_the_raw_rows_median(conn: asyncpg.Connection) -> None:
    """Medians whose two middle cases close on different days, or within one, odd and even
    counts, a half hundredth rounded away from zero, over a day, a month, a year and a period
    of several spans: ``case_close_median`` gives what percentile_cont over the rows gives."""
    await conn.execute('ALTER TABLE "case" DISABLE TRIGGER case_guard, DISABLE TRIGGER case_audit')
    point = await conn.fetchval("SELECT id FROM contact_point WHERE district_code = '310101' ORDER BY id LIMIT 1")
    opened = dt.datetime(2031, 5, 5, 1, tzinfo=dt.UTC)  # a year with no other case
    periods = [
        (dt.date(2031, 5, 5), dt.date(2031, 5, 6)),
        (dt.date(2031, 5, 1), dt.date(2031, 6, 1)),
        (dt.date(2031, 1, 1), dt.date(2032, 1, 1)),
        (dt.date(2030, 12, 30), dt.date(2031, 5, 6)),
    ]
    expected = {1: 0.5, 2: 1.88, 3: 3.25, 4: 3.25}  # 0.50; (0.50 + 3.25) / 2 = 1.875; ...
    for n, hundredths in enumerate((50, 325, 330, 325), start=1):
        await conn.execute(
            'INSERT INTO "case" (number, kind, channel, category, status, contact_point_id, opened_at, closed_at)'
            " VALUES ($1, 'complaint', 'on_site', 'other', 'settled', $2, $3, $4)",
            f"C310101-2031-{n:07d}",
            point,
            opened,
            opened + dt.timedelta(seconds=864 * hundredths),
        )
        for start, before in periods:
            for scope, keys in (("district", ["310101"]), ("region", ["310000"]), ("network", [stats.NETWORK])):
                [found] = await stats.case_stats(conn, scope, keys, start, before)
                [raw] = await stats.case_stats_from_rows(conn, scope, keys, start, before)
                assert (found.median_days_to_close, raw.median_days_to_close) == (expected[n], expected[n])


async def test_a_corrupted_summary_is_found_and_rebuilt(db_dsn: str, conn: asyncpg.Connection) -> None:
    await conn.execute(
        "UPDATE case_summary SET status_settled = status_settled + 1 WHERE (district_code, span, starts) ="
        " ('310101', 'year', '2020-01-01')"
    )
    await conn.execute(
        "DELETE FROM return_summary WHERE (span, starts, purchase_district_code, return_district_code) ="
        " (SELECT span, starts, purchase_district_code, return_district_code FROM return_summary"
        "   WHERE span = 'day' ORDER BY 2, 3, 4 LIMIT 1)"
    )
    await conn.execute("INSERT INTO case_close_histogram VALUES ('310101', 'year', '2001-01-01', 1, 5, 1)")
    found = await summaries.check(conn)
    assert [(d.table, d.summary is None, d.from_rows is None) for d in found] == [
        ("case_summary", False, False),
        ("case_close_histogram", False, True),
        ("return_summary", True, False),
    ]
    assert "status_settled" in str(found[0])
    assert await _differing(conn) != []

    checked = await _liaison(db_dsn, "stats", "check")
    assert checked.returncode == 1 and checked.stdout.count("\n") == 3, checked.stderr
    rebuilt = await _liaison(db_dsn, "stats", "rebuild")
    assert rebuilt.returncode == 0 and rebuilt.stdout.count("repaired ") == 3, rebuilt.stderr
    checked = await _liaison(db_dsn, "stats", "check")
    assert checked.returncode == 0 and checked.stdout == "", checked.stdout
    assert await _differing(conn) == []


async def _liaison(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``liaison`` with ``args`` on ``dsn``, run off the event loop."""
    env = {**os.environ, "DATABASE_URL": dsn}
    command = [str(LIAISON), *args]
    return await asyncio.to_thread(subprocess.run, command, env=env, capture_output=True, text=True, timeout=120)


def test_verify_mode_flags_a_corrupted_summary_and_serves_the_raw_figures(db_dsn: str) -> None:
    query = "{ networkStats { cases { total byStatus { status count } } } }"
    with service(db_dsn) as client:
        right = data(client, query)
    _run_sql(
        db_dsn,
        "UPDATE case_summary SET cases = cases + 5, status_settled = status_settled + 5"
        " WHERE (district_code, span, starts) = ('310101', 'year', '2019-01-01')",
    )
    with service(db_dsn) as client:
        client.event_hooks = {"response": []}  # this response must say mismatch
        response = client.post("/graphql", json={"query": query})
        assert response.headers[HEADER] == "mismatch"
        assert response.json()["data"] == right
    with service(db_dsn, LIAISON_EXECUTION="compiled") as client:
        served = data(client, query)["networkStats"]["cases"]["total"]
        assert served == right["networkStats"]["cases"]["total"] + 5  # what `stats check` is for


def _run_sql(dsn: str, sql: str) -> None:
    async def run() -> None:
        db = await asyncpg.connect(dsn)
        try:
            await db.execute(sql)
        finally:
            await db.close()

    asyncio.run(run())


async def _summary_state(db: asyncpg.Connection) -> list[Any]:
    return [
        await db.fetchval(f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) FROM {table} t")
        for table in summaries.SUMMARIES
    ]


async def test_a_failed_writer_rolls_back_its_summary_change(conn: asyncpg.Connection) -> None:
    before = await _summary_state(conn)

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned):
        async with conn.transaction():
            await _insert_cases(conn, 200)
            await conn.execute("DELETE FROM cross_store_return WHERE id % 2 = 0")
            assert await _summary_state(conn) != before  # moved inside the writer's transaction
            raise Abandoned
    assert await _summary_state(conn) == before

    # a statement refused part-way (its last row's number is taken) changes nothing either
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(
            """
INSERT INTO "case" (number, kind, channel, category, status, contact_point_id, opened_at)
VALUES ('C310101-2097-000001', 'consultation', 'on_site', 'other', 'received', 1, now()),
       ((SELECT min(number) FROM "case"), 'consultation', 'on_site', 'other', 'received', 1, now())"""
        )
    assert await _summary_state(conn) == before
    assert await summaries.check(conn) == []


async def test_the_volume_fixture_keeps_its_summaries(volume_dsn: str) -> None:
    db = await asyncpg.connect(volume_dsn)
    try:
        assert await summaries.check(db) == []
        assert await _differing(db) == []
        assert await db.fetchval("SELECT sum(cases) FROM case_summary WHERE span = 'year'") == await db.fetchval(
            'SELECT count(*) FROM "case"'
        )
    finally:
        await db.close()
