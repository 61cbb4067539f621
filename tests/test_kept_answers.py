"""Compiled statistics kept by the versions of what they read (``db.answers``, migration 0022):
served again only while no write has touched the summaries of their districts and years,
never stale, whoever writes (mutations, plain SQL, `stats rebuild`) and whenever they commit."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from graphql import parse
from graphql.utilities import get_operation_ast

from db import plan, summaries
from db.access import Role, Viewer
from db.answers import Answers, VersionCheck, fetch_answer, render_versioned
from db.volume import add_volume
from resolvers.compiler import Compiler
from schema import schema
from schema.caches import BoundedCache

from .support import app_state, bearer, compiled_and_verified, post, service
from .test_metrics import SECRET, scrape
from .writes_support import intake, write

INTERNAL = Viewer(Role.INTERNAL)

Q4C = """{ region(code: "310000") { districts { code name
  stats { cases(period: {from: "%s", before: "%s"}) {
    total settlementRate medianDaysToClose amountClaimed byStatus { status count } byKind { kind count } } } } } }"""

THIS_YEAR = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).year


def year(y: int) -> str:
    return Q4C % (f"{y}-01-01", f"{y + 1}-01-01")


def _statement(query: str) -> tuple[str, list[Any], VersionCheck | None]:
    document = parse(query)
    operation = get_operation_ast(document)
    assert operation is not None
    return render_versioned(Compiler(schema).plan(document, operation, {}, INTERNAL, 100), INTERNAL)


class Counting:
    """An executor that records the statements it runs."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.sql: list[str] = []

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        self.sql.append(query)
        return await self.conn.fetch(query, *args)


class Kept:
    """The answers of one test, and the statements each request cost."""

    def __init__(self, conn: asyncpg.Connection, store: Any = None) -> None:
        self.conn = conn
        self.answers = Answers(store or BoundedCache(2**20))

    async def get(self, query: str) -> tuple[str, list[str]]:
        """The answer served, and the statements it cost; checked against the raw statement's answer."""
        sql, values, check = _statement(query)
        assert check is not None
        db = Counting(self.conn)
        text = await fetch_answer(db, self.answers, sql, values, check)
        fresh = (await self.conn.fetch(sql, *values))[0][1]
        assert text == fresh  # exactly what the summaries give now
        return text, ["check" if s == check.sql else "statement" for s in db.sql]


async def _open_case(conn: asyncpg.Connection, district: str, opened: str) -> None:
    """A case copied from one of ``district``'s, opened at ``opened`` (a timestamptz literal)."""
    await conn.execute(
        """
INSERT INTO "case" (number, kind, channel, category, status, contact_point_id, amount_claimed, amount_recovered,
                    opened_at, closed_at)
SELECT 'C' || substr(c.number, 2, 6) || '-2098-' || lpad((SELECT count(*) FROM "case")::text, 6, '0'),
       c.kind, c.channel, c.category, 'settled', c.contact_point_id, 123.45, 0, $2::text::timestamptz,
       $2::text::timestamptz + interval '3 days 4 hours'
  FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id WHERE p.district_code = $1 ORDER BY c.id LIMIT 1""",
        district,
        opened,
    )


async def test_a_kept_answer_is_served_until_a_write_in_its_district_and_year(conn: asyncpg.Connection) -> None:
    kept = Kept(conn)
    first, cost = await kept.get(year(2020))
    assert cost == ["statement"] and kept.answers.served == {"new": 1}
    again, cost = await kept.get(year(2020))
    assert (again, cost) == (first, ["check"]) and kept.answers.served["kept"] == 1

    await _open_case(conn, "310115", "2020-06-01 10:00+08")
    after, cost = await kept.get(year(2020))
    assert cost == ["check", "statement"] and kept.answers.served["stale"] == 1
    assert after != first


async def test_another_years_answer_stays_kept_while_todays_cases_come_in(conn: asyncpg.Connection) -> None:
    kept = Kept(conn)
    past, _ = await kept.get(year(2020))
    now, _ = await kept.get(year(THIS_YEAR))
    await _open_case(conn, "310115", dt.datetime.now(dt.UTC).isoformat())
    assert await kept.get(year(2020)) == (past, ["check"])
    today, cost = await kept.get(year(THIS_YEAR))
    assert cost == ["check", "statement"] and today != now


async def test_a_year_without_a_version_yet_gets_one_with_its_first_case(conn: asyncpg.Connection) -> None:
    assert await conn.fetchval("SELECT count(*) FROM data_version WHERE year = 2097") == 0
    kept = Kept(conn)
    empty, _ = await kept.get(year(2097))
    await _open_case(conn, "310101", "2097-03-01 09:00+08")
    found, cost = await kept.get(year(2097))
    assert cost == ["check", "statement"] and found != empty


async def test_versions_never_repeat_after_the_version_table_is_reset(conn: asyncpg.Connection) -> None:
    """An operator emptying data_version (or restoring a dump) while the service runs: a cell
    counted from 1 again could reach a kept answer's version with other data. Versions come
    from one sequence, so a version is never given twice."""
    await _open_case(conn, "310101", "2096-03-01 09:00+08")
    kept = Kept(conn)
    await kept.get(year(2096))
    await conn.execute("DELETE FROM data_version WHERE year = 2096")
    await _open_case(conn, "310101", "2096-04-01 09:00+08")
    _, cost = await kept.get(year(2096))  # Kept.get checks the answer against the summaries
    assert cost == ["check", "statement"]


async def test_a_manual_edit_and_a_rebuild_are_never_hidden(conn: asyncpg.Connection) -> None:
    kept = Kept(conn)
    right, _ = await kept.get(year(2020))
    edit = (
        "UPDATE case_summary SET status_settled = status_settled + 7"
        " WHERE (district_code, span, starts) = ('310101', 'year', '2020-01-01')"
    )
    await conn.execute(edit)
    corrupted, cost = await kept.get(year(2020))  # served as the summaries say: `stats check` finds it
    assert cost == ["check", "statement"] and corrupted != right
    # Repaired by hand with the triggers off (no version moves): the corrupted answer is still
    # kept, and `stats rebuild`, with nothing left to repair, must not leave it served.
    await conn.execute("SET session_replication_role = replica")
    await conn.execute(edit.replace("+ 7", "- 7"))
    await conn.execute("SET session_replication_role = DEFAULT")
    sql, values, check = _statement(year(2020))
    assert await fetch_answer(conn, kept.answers, sql, values, check) == corrupted
    assert await summaries.rebuild(conn) == []
    rebuilt, cost = await kept.get(year(2020))
    assert cost == ["check", "statement"] and rebuilt == right


class WriteAfterStatement(Counting):
    """An executor after whose first statement another connection commits a write: before the
    answer is stored, and before anything else the reader might read."""

    def __init__(self, conn: asyncpg.Connection, other: asyncpg.Connection, opened: str) -> None:
        super().__init__(conn)
        self.other, self.opened = other, opened

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        rows = await super().fetch(query, *args)
        if len(self.sql) == 1:
            await _open_case(self.other, "310115", self.opened)
        return rows


async def test_a_write_committed_between_the_statement_and_the_store_is_not_served(
    db_dsn: str, conn: asyncpg.Connection
) -> None:
    other = await asyncpg.connect(db_dsn)
    try:
        answers = Answers(BoundedCache(2**20))
        sql, values, check = _statement(year(2020))
        assert check is not None
        before = await fetch_answer(
            WriteAfterStatement(conn, other, "2020-07-01 10:00+08"), answers, sql, values, check
        )
        served = await fetch_answer(conn, answers, sql, values, check)
        assert answers.served == {"new": 1, "stale": 1}
        assert served != before and served == (await conn.fetch(sql, *values))[0][1]

        # A writer still open is not seen (nor waited for), and its commit moves the version.
        async with other.transaction():
            await _open_case(other, "310115", "2020-08-01 10:00+08")
            assert await fetch_answer(conn, answers, sql, values, check) == served
            assert answers.served["kept"] == 1
        seen = await fetch_answer(conn, answers, sql, values, check)
        assert seen != served and seen == (await conn.fetch(sql, *values))[0][1]
        assert answers.served["stale"] == 2
    finally:
        await other.close()


def test_only_statements_over_versioned_data_are_kept() -> None:
    for versioned in (
        year(2020),
        "{ regions { code name districts { code } } }",
        '{ region(code: "310000") { stats { cases { total } crossStoreReturns { count } } } }',
        "{ networkStats { contactPoints { total fiveInto byHostKind { hostKind count } } } }",  # contact points
        '{ district(code: "310115") { stats { cases { total } } contactPoints(first: 2) { nodes { code } } } }',
        "{ regions { code stats { cases { total } } } contactPoints(first: 1) { nodes { code } } }",
    ):
        assert _statement(versioned)[2] is not None, versioned
    for unversioned in (
        "{ networkStats { contactPoints { byCurrentStars { stars count } } } }",  # ratings: no version
        "{ cases(first: 1) { nodes { number } } }",  # the cases themselves
        "{ contactPoints(first: 2, filter: {hostKinds: [SCHOOL]}) { nodes { code } } }",  # a filter may read any table
        '{ district(code: "310115") { contactPoints(first: 2) { nodes { cases(first: 1) { nodes { number } } } } } }',
    ):
        assert _statement(unversioned)[2] is None, unversioned


def test_a_streets_case_figures_read_the_cases_not_the_summaries() -> None:
    """The summaries are per district: a street's figures are counted from the cases, which
    no version covers, so its statement must never be kept on the summaries' versions."""
    query = '{ district(code: "310115") { streets { name stats { cases { total } } } stats { cases { total } } } }'
    document = parse(query)
    operation = get_operation_ast(document)
    assert operation is not None
    found = plan.reads(Compiler(schema).plan(document, operation, {}, INTERNAL, 100).selection)
    assert {"case", "contact_point", "street"} <= found.tables
    assert {source for source, _, _ in found.summaries} == {"case"}  # the district's own figures


async def test_a_reference_write_moves_the_answers_that_name_it(conn: asyncpg.Connection) -> None:
    kept = Kept(conn)
    first, _ = await kept.get(year(2020))
    await conn.execute("UPDATE district SET name = name || '区' WHERE code = '310115'")
    renamed, cost = await kept.get(year(2020))
    assert cost == ["check", "statement"] and renamed != first


async def test_a_contact_point_write_moves_the_answers_that_count_contact_points(conn: asyncpg.Connection) -> None:
    """Point figures are kept on the contact points' version: any write to one (an import, an
    edit by hand) is seen by the next request."""
    kept = Kept(conn)
    query = '{ region(code: "310000") { districts { code stats { contactPoints { total byHostKind { hostKind count } } } } } }'
    first, cost = await kept.get(query)
    again, cost_again = await kept.get(query)
    assert (cost, cost_again, again) == (["statement"], ["check"], first)
    await conn.execute(
        "UPDATE contact_point SET host_kind = 'school' WHERE code = (SELECT min(code) FROM contact_point WHERE district_code = '310115' AND host_kind <> 'school')"
    )
    moved, cost = await kept.get(query)
    assert cost == ["check", "statement"] and moved != first


def test_the_service_keeps_q4c_across_todays_intake_on_every_path(db_dsn: str) -> None:
    with service(db_dsn, LIAISON_EXECUTION="compiled", LIAISON_METRICS_SECRET=SECRET) as client:
        answers = app_state(client).engine.answers
        first = post(client, year(2020))
        now = post(client, year(THIS_YEAR))
        assert post(client, year(2020)) == first and answers.served["kept"] == 1
        opened = write(client, "caseOpen", bearer("case_officer", districts=["310115"]), **intake())
        assert opened["data"]["caseOpen"]["userErrors"] == [], opened
        assert post(client, year(2020)) == first and answers.served["kept"] == 2
        today = post(client, year(THIS_YEAR))
        assert today[:2] == ("compiled", 2) and today != now and answers.served["stale"] == 1
        samples = scrape(client)
        outcomes = {k[1][0][1]: v for k, v in samples.items() if k[0] == "liaison_kept_answers_total"}
        assert outcomes == {"kept": 2, "stale": 1, "new": 2}
    compiled_and_verified(db_dsn, year(THIS_YEAR))


async def test_a_volume_load_moves_the_answers_over_every_year(db_dsn: str, conn: asyncpg.Connection) -> None:
    """``liaison volume`` (COPY, with the triggers) bumps what it adds to: cases and returns."""
    every_year = """{ region(code: "310000") { districts { code stats { cases { total medianDaysToClose }
      crossStoreReturns { count fromRegion { code } } } } } }"""
    kept = Kept(conn)
    first, _ = await kept.get(every_year)
    assert await kept.get(every_year) == (first, ["check"])
    await add_volume(db_dsn, cases=300, returns=30, seed=22)
    loaded, cost = await kept.get(every_year)
    assert cost == ["check", "statement"] and loaded != first


async def _version(conn: asyncpg.Connection, district: str, year: int) -> int:
    return await conn.fetchval(
        "SELECT version FROM data_version WHERE (source, year, district_code) = ('case', $2, $1)", district, year
    )


async def test_a_case_bumps_its_cell_once_and_other_writers_still_bump(conn: asyncpg.Connection) -> None:
    """The summaries' functions bump the versions themselves, once per statement (migration
    0023), for the case_summary rows and the histogram buckets a closed case moves alike;
    the summary tables' own triggers still bump for any other write, in the same transaction too.
    A bump takes the next value of the versions' sequence (migration 0024): counted by it."""

    async def bumps() -> int:
        return await conn.fetchval("SELECT last_value FROM data_version_seq")

    pudong, counted = await _version(conn, "310115", 2020), await bumps()
    await _open_case(conn, "310115", "2020-06-01 10:00+08")  # closed: three summary rows, six buckets
    assert await bumps() == counted + 1 and await _version(conn, "310115", 2020) == counted + 1 != pudong
    edited, counted = await _version(conn, "310101", 2020), await bumps()
    async with conn.transaction():
        await _open_case(conn, "310115", "2020-06-02 10:00+08")
        await conn.execute(
            "UPDATE case_summary SET status_settled = status_settled + 1"
            " WHERE (district_code, span, starts) = ('310101', 'year', '2020-01-01')"
        )
    assert await bumps() == counted + 2
    assert await _version(conn, "310115", 2020) == counted + 1 and await _version(conn, "310101", 2020) == counted + 2
    await conn.execute(
        "UPDATE case_close_histogram SET cases = cases WHERE (district_code, span, starts) = ('310101', 'year', '2020-01-01')"
    )
    assert await bumps() == counted + 3 and await _version(conn, "310101", 2020) == counted + 3 != edited
