"""Case statistics and return flows on the compiled path: read from the summaries in the one
statement with the rest of the query, and the generic path's answer to the byte (the services
run in verify mode) for every scope, period and role, after writes, after a volume load and
after `liaison stats rebuild`."""

from __future__ import annotations

import datetime as dt
import math
import os
import random
import struct
import subprocess
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import orjson
import pytest
from graphql import parse
from graphql.utilities import get_operation_ast

from db.access import ANONYMOUS
from db.compiled import render
from resolvers.compiler import Compiler
from schema import schema
from schema.compiled import HEADER

from .support import LIAISON, bearer, post, service
from .test_summaries import PERIODS, STATS_QUERY, _run_sql
from .writes_support import PUDONG_POINT, intake, ok

# Statistics beside other compiled fields, in aliases, fragments and partial selections.
MIXED = """query Mixed($from: Date, $before: Date) {
  __typename
  networkStats { __typename contactPoints { total } cases { total medianDaysToClose } }
  pudong: district(code: "310115") { code
    contactPoints(first: 2) { nodes { code } }
    stats { ...Rates year: cases(period: {from: $from, before: $before}) { __typename byCategory { __typename category count } }
      flows: crossStoreReturns(period: {from: $from, before: $before}) { __typename n: count fromRegion { code name } } } }
  regions { code stats { ...Rates } }
}
fragment Rates on Stats { cases(period: {from: $from, before: $before}) {
  rate: settlementRate settlementRate amountRecovered byChannel { channel c: count } } }"""

PERIOD_QUERY = """query ($period: Period) { networkStats { cases(period: $period) { total byStatus { status count } }
  crossStoreReturns(period: $period) { count fromRegion { code } toRegion { code } } } }"""


def variables(start: dt.date | None, before: dt.date | None) -> dict[str, Any]:
    return {"from": start and start.isoformat(), "before": before and before.isoformat()}


async def test_json_float_writes_floats_as_orjson_does(demo_dsn: str) -> None:
    """Every float the compiled path writes (settlement rates, medians), and a sample of all."""
    rng = random.Random(16)
    values = [0.0, -0.0, 1.0, 0.5, 2 / 3, 1 / 7, 12.25, 3.0, 1e15, 1e16, 1.2345e15, 1234567890123456.7]
    values += [m * 10.0**e for e in range(-12, 16) for m in (1.0, 1.25, 9.999, 1.2345678901234567)]
    values += [i / j for j in range(1, 60) for i in range(j + 1)]
    values += [k / 100 for k in range(0, 100_000, 7)]
    values += [1 / n for n in (100_000, 123_457, 1_000_000, 9_999_999, 10_000_000)]
    while len(values) < 20_000:
        value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if math.isfinite(value) and abs(value) < 1e16:  # above, integers only: see migration 0010
            values.append(value)
    db = await asyncpg.connect(demo_dsn)
    try:
        written = await db.fetch(
            "SELECT json_float(x)::text FROM unnest($1::float8[]) WITH ORDINALITY u (x, n) ORDER BY n", values
        )
        assert await db.fetchval("SELECT json_float(NULL)") is None
    finally:
        await db.close()
    differing = [(v, r[0]) for v, r in zip(values, written, strict=True) if r[0] != orjson.dumps(v).decode()]
    assert differing == [], differing


def test_statistics_compile_into_the_one_statement(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_EXECUTION="compiled") as client:
        for start, before in PERIODS:
            for query in (STATS_QUERY, MIXED):
                served, statements, found = post(client, query, **variables(start, before))
                assert (served, statements) == ("compiled", 1)
        assert found["pudong"]["stats"]["year"]["byCategory"], "the last period has cases"


@pytest.mark.parametrize("query", [STATS_QUERY, MIXED])
def test_both_paths_agree_on_every_scope_and_period(demo_dsn: str, query: str) -> None:
    """Verify mode: the compiled answer, read from the summaries, is the generic path's, which
    is counted from the raw rows (and compared with its own reading of the summaries)."""
    with service(demo_dsn) as client:
        for start, before in PERIODS:
            served, _, found = post(client, query, **variables(start, before))
            assert served == "verified"
    empty = dt.date(2030, 1, 1), dt.date(2030, 2, 1)
    with service(demo_dsn, LIAISON_EXECUTION="compiled") as client:
        served, _, found = post(client, STATS_QUERY, **variables(*empty))
    figures = found["networkStats"]["cases"]
    assert (figures["total"], figures["settlementRate"], figures["medianDaysToClose"]) == (0, None, None)
    assert (figures["amountClaimed"], figures["byStatus"], found["networkStats"]["crossStoreReturns"]) == (
        "0.00",
        [],
        [],
    )


SCOPED = {
    "anonymous": {},
    "partner": {"regions": ["320000"]},
    "internal": {},
    "case_officer": {"districts": ["310115"]},
    "admin": {},
    "contact_point": {"contactPoints": [PUDONG_POINT]},
}
READS_EVERY_CASE = {"internal", "case_officer", "admin"}


@pytest.mark.parametrize("role", list(SCOPED))
def test_every_role_gets_the_same_figures_and_the_same_minimum_period(demo_dsn: str, role: str) -> None:
    headers = None if role == "anonymous" else bearer(role, **SCOPED[role])
    with service(demo_dsn, role=None) as client:
        for period in (
            None,
            {"from": "2020-01-01", "before": "2021-01-01"},
            {"from": "2019-03-05", "before": "2019-04-02"},
        ):
            served, _, _ = post(client, PERIOD_QUERY, headers, period=period)
            assert served == "verified"
        week = {"from": "2020-03-01", "before": "2020-03-08"}
        for query in (
            "query ($period: Period) { networkStats { cases(period: $period) { total } } }",
            "query ($period: Period) { networkStats { crossStoreReturns(period: $period) { count } } }",
        ):
            response = client.post("/graphql", json={"query": query, "variables": {"period": week}}, headers=headers)
            if role in READS_EVERY_CASE:
                assert response.headers[HEADER] == "verified"
                assert "errors" not in response.json()
            else:  # refused alike: the compiler leaves it to the generic path, which words the error
                assert response.headers[HEADER] == "dataloader"
                assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def _shanghai_today() -> dt.date:
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


PUDONG_MONTH = """query ($from: Date!, $before: Date!) { district(code: "310115") { stats {
  cases(period: {from: $from, before: $before}) { total settledOnlineMediations settlementRate medianDaysToClose
    amountClaimed amountRecovered byStatus { status count } byChannel { channel count } } } } }"""


def test_figures_follow_the_mutations(db_dsn: str) -> None:
    today = _shanghai_today()
    month: dict[str, Any] = {
        "from": (today - dt.timedelta(days=30)).isoformat(),
        "before": (today + dt.timedelta(days=1)).isoformat(),
    }
    staff = bearer("contact_point", contactPoints=[PUDONG_POINT])
    with (
        service(db_dsn, role=None) as client,
        service(db_dsn, role="internal", LIAISON_EXECUTION="compiled") as compiled,
    ):
        client.headers.update(staff)

        def figures(written: bool = True) -> dict[str, Any]:
            served, _, found = post(client, PUDONG_MONTH, **month)
            assert served == "verified"
            # After a write the kept answer's versions (db.answers) differ: checked, then run again.
            served, statements, same = post(compiled, PUDONG_MONTH, **month)
            assert (served, statements, same) == ("compiled", 2 if written else 1, found)
            return found["district"]["stats"]["cases"]

        def status(found: dict[str, Any], name: str) -> int:
            return sum(s["count"] for s in found["byStatus"] if s["status"] == name)

        before = figures(written=False)
        number = ok(client, "caseOpen", **intake(channel="ONLINE_MEDIATION"))["case"]["number"]
        opened = figures()
        assert opened["total"] == before["total"] + 1
        assert status(opened, "RECEIVED") == status(before, "RECEIVED") + 1
        ok(client, "caseAccept", number=number, expectedVersion=1)
        ok(client, "caseStartMediation", number=number, expectedVersion=2)
        assert status(figures(), "MEDIATING") == status(before, "MEDIATING") + 1
        ok(client, "caseSettle", number=number, expectedVersion=3, amountRecovered="123.45")
        settled = figures()
        assert status(settled, "SETTLED") == status(before, "SETTLED") + 1
        assert settled["settledOnlineMediations"] == before["settledOnlineMediations"] + 1
        assert float(settled["amountRecovered"]) == pytest.approx(float(before["amountRecovered"]) + 123.45)
        assert settled["medianDaysToClose"] is not None and settled["settlementRate"] is not None


def test_figures_after_a_volume_load(volume_dsn: str) -> None:
    with service(volume_dsn) as client:
        for start, before in PERIODS:
            served, _, _ = post(client, STATS_QUERY, **variables(start, before))
            assert served == "verified"
    with service(volume_dsn, LIAISON_EXECUTION="compiled") as client:
        served, statements, _ = post(client, MIXED, **variables(*PERIODS[1]))
    assert (served, statements) == ("compiled", 1)


def test_figures_after_stats_rebuild(db_dsn: str) -> None:
    year = variables(dt.date(2020, 1, 1), dt.date(2021, 1, 1))
    with service(db_dsn, LIAISON_EXECUTION="compiled") as client:
        _, _, right = post(client, STATS_QUERY, **year)
    _run_sql(
        db_dsn,
        "UPDATE case_summary SET cases = cases + 3, status_received = status_received + 3"
        " WHERE (district_code, span, starts) = ('310115', 'year', '2020-01-01');"
        " UPDATE case_close_histogram SET cases = cases + 50"
        " WHERE (district_code, span, starts, width) = ('310115', 'year', '2020-01-01', 100) AND bucket = 0;"
        " UPDATE return_summary SET returns = returns + 2 WHERE span = 'year' AND starts = '2020-01-01'",
    )
    with service(db_dsn, LIAISON_EXECUTION="compiled") as client:
        _, _, wrong = post(client, STATS_QUERY, **year)
    assert wrong["networkStats"]["cases"]["total"] == right["networkStats"]["cases"]["total"] + 3
    assert wrong != right
    with service(db_dsn) as client:
        client.event_hooks = {"response": []}  # this response must say mismatch
        response = client.post("/graphql", json={"query": STATS_QUERY, "variables": year})
        assert response.headers[HEADER] == "mismatch"
    rebuilt = subprocess.run(
        [str(LIAISON), "stats", "rebuild"],
        env={**os.environ, "DATABASE_URL": db_dsn},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert rebuilt.returncode == 0 and rebuilt.stdout.count("repaired ") >= 3, rebuilt.stderr
    with service(db_dsn) as client:
        served, _, found = post(client, STATS_QUERY, **year)
        assert served == "verified"
    assert found == right


def test_compiled_statistics_skip_the_median_unless_asked(demo_dsn: str) -> None:
    """The median's histogram is read only for a selection that has it (the figures agree either way)."""
    asked = "{ networkStats { cases { total medianDaysToClose } } }"
    unasked = "{ networkStats { cases { total } } }"
    statements = {}
    for query in (asked, unasked):
        with service(demo_dsn, LIAISON_EXECUTION="compiled") as client:
            served, count, _ = post(client, query)
            assert (served, count) == ("compiled", 1)
        statements[query] = _plan_sql(query)
    assert "case_close_median(" in statements[asked]
    assert "case_close_median(" not in statements[unasked]


def _plan_sql(query: str) -> str:
    """The statement the compiler makes of ``query`` for an anonymous caller."""
    compiler = Compiler(schema)
    document = parse(query)
    operation = get_operation_ast(document)
    assert operation is not None
    sql, _ = render(compiler.plan(document, operation, {}, ANONYMOUS, 100), ANONYMOUS)
    return sql
