"""Requests of one compiled statement that wait for a connection together share one execution
(``db.pool.Database.fetch_shared``, ``db.sql.shared_form``).

Each is answered as if it had run alone: the same text, its own error for a value the
database refuses, the fault of the database for all; a request that gives up leaves the
others their answers. The statement counts say how many executions they took.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from db.errors import InvalidInput, PoolSaturated
from db.pool import SHARED_AT_MOST, Database, open_database
from db.sql import shared_form

from .support import service

STATEMENT = "SELECT json_build_object('n', 100 / $1::int, 'word', $2::text, 'at', $3::date)::text"
SHARED = shared_form(STATEMENT)


def test_the_shared_form_takes_each_placeholder_from_an_array_and_leaves_literals_alone() -> None:
    assert shared_form("SELECT $1::text || '$2::int' || \"$1\", $2::int") == (
        "SELECT _shared._i, _answer.* FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS _shared(_c1, _c2, _i)"
        " CROSS JOIN LATERAL (SELECT _shared._c1::text || '$2::int' || \"$1\", _shared._c2::int) AS _answer"
    )


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT $1",  # no cast: its type is the server's guess
        "SELECT $1::text[]",  # unnest would flatten an array of arrays
        "SELECT $1::text, $1::int",  # two types for one value
        "SELECT $2::text",  # a placeholder missing
        "SELECT 1",  # nothing to vary
        'SELECT $1::text AS "_shared"',  # a name of the shared form's own
    ],
)
def test_a_statement_unnest_cannot_carry_has_no_shared_form(sql: str) -> None:
    assert shared_form(sql) is None


@pytest.fixture
async def database(db_dsn: str) -> AsyncIterator[Database]:
    db = await open_database(db_dsn, max_size=1, timeout=5)
    try:
        yield db
    finally:
        await db.close()


async def until_waiting(db: Database, waiting: int) -> None:
    """Until ``waiting`` requests wait in groups for their shared execution."""
    for _ in range(500):
        if db.sharing >= waiting:
            break
        await asyncio.sleep(0.01)
    assert db.sharing == waiting


@contextlib.asynccontextmanager
async def every_turn_held(db: Database, waiting: int) -> AsyncIterator[None]:
    """The only connection held until ``waiting`` requests wait for it, then given back."""
    async with db.connection():
        yield
        await until_waiting(db, waiting)


SLEEPING = "SELECT $1::text || (SELECT '' FROM pg_sleep({} + 0 * length($1::text)))"
"""A statement that sleeps for each request it answers (the sleep depends on the request's value,
so PostgreSQL cannot run it once for all as an InitPlan)."""


def args(n: int) -> tuple[Any, ...]:
    return (n, f"w{n}", datetime.date(2024, 1, 1) + datetime.timedelta(days=n))


async def alone(db: Database, n: int) -> str:
    text: str = (await db.fetch(STATEMENT, *args(n)))[0][0]
    return text


async def test_requests_waiting_together_share_one_execution_and_get_their_own_answers(database: Database) -> None:
    assert SHARED is not None
    expected = [await alone(database, n) for n in range(1, 6)]
    before = database.statements
    async with every_turn_held(database, 5):
        asked = [asyncio.create_task(database.fetch_shared(STATEMENT, SHARED, args(n))) for n in range(1, 6)]
    assert await asyncio.gather(*asked) == expected
    assert database.statements - before == 2  # the holder's turn, then one for the five
    assert (database.waiting, database.sharing, database.in_use) == (0, 0, 0)
    pool = database.pool
    assert pool.get_idle_size() == pool.get_size(), "an idle service keeps no connection outside the pool"


async def test_a_request_with_a_free_connection_runs_alone_at_once(database: Database) -> None:
    assert SHARED is not None
    before = database.statements
    assert await database.fetch_shared(STATEMENT, SHARED, args(3)) == await alone(database, 3)
    assert database.statements - before == 2


async def test_a_value_the_database_refuses_fails_its_own_request_only(database: Database) -> None:
    assert SHARED is not None
    expected = {n: await alone(database, n) for n in (1, 2, 4)}
    before = database.statements
    async with every_turn_held(database, 4):
        asked = [asyncio.create_task(database.fetch_shared(STATEMENT, SHARED, args(n))) for n in (1, 2, 0, 4)]
    outcomes = await asyncio.gather(*asked, return_exceptions=True)
    assert isinstance(outcomes[2], InvalidInput)  # 100 / 0
    assert [outcomes[0], outcomes[1], outcomes[3]] == [expected[1], expected[2], expected[4]]
    assert database.statements - before == 1 + 1 + 4  # the holder, the shared one that failed, each alone


async def test_a_request_that_gives_up_leaves_the_others_their_answers(database: Database) -> None:
    assert SHARED is not None
    expected = [await alone(database, n) for n in (1, 3)]
    async with database.connection():
        asked = [asyncio.create_task(database.fetch_shared(STATEMENT, SHARED, args(n))) for n in (1, 2, 3)]
        await until_waiting(database, 3)
        asked[1].cancel()
        await asyncio.sleep(0)
        assert database.sharing == 2
    assert [await asked[0], await asked[2]] == expected
    with pytest.raises(asyncio.CancelledError):
        await asked[1]
    assert database.waiting == 0 and database.in_use == 0


async def test_a_group_holds_at_most_its_bound_and_the_rest_start_another(database: Database) -> None:
    assert SHARED is not None
    count = SHARED_AT_MOST + 3
    expected = [await alone(database, n) for n in range(1, count + 1)]
    before = database.statements
    async with every_turn_held(database, count):
        asked = [asyncio.create_task(database.fetch_shared(STATEMENT, SHARED, args(n))) for n in range(1, count + 1)]
    assert await asyncio.gather(*asked) == expected
    assert database.statements - before == 1 + 2


async def test_a_turn_that_never_comes_fails_every_member_as_saturated(db_dsn: str) -> None:
    db = await open_database(db_dsn, max_size=1, timeout=0.3)
    try:
        assert SHARED is not None
        async with db.connection():
            outcomes = await asyncio.gather(
                *(db.fetch_shared(STATEMENT, SHARED, args(n)) for n in (1, 2, 3)), return_exceptions=True
            )
        assert all(isinstance(outcome, PoolSaturated) for outcome in outcomes), outcomes
        assert (db.waiting, db.sharing, db.in_use) == (0, 0, 0)
        async with asyncio.timeout(2):  # the failed group is closed: the next request is answered
            assert await db.fetch_shared(STATEMENT, SHARED, args(4)) == await alone(db, 4)
    finally:
        await db.close()


async def test_a_shared_execution_gets_the_time_its_members_would_have_had_each(db_dsn: str) -> None:
    db = await open_database(db_dsn, max_size=1, timeout=0.5)
    slow = SLEEPING.format(0.3)
    shared = shared_form(slow)
    assert shared is not None
    try:
        async with every_turn_held(db, 3):
            asked = [asyncio.create_task(db.fetch_shared(slow, shared, (word,))) for word in "abc"]
        await asyncio.sleep(0.05)  # the shared run has its turn: 0.9 s for three, within 3 × 0.5
        with pytest.raises(PoolSaturated):  # a wait past 0.5 s behind it is load, not DATABASE_UNAVAILABLE
            await db.fetch("SELECT 1")
        assert await asyncio.gather(*asked) == ["a", "b", "c"]
    finally:
        await db.close()


async def test_a_shared_execution_stops_when_every_member_has_given_up(database: Database) -> None:
    slow = SLEEPING.format(1)
    shared = shared_form(slow)
    assert shared is not None
    async with every_turn_held(database, 2):
        asked = [asyncio.create_task(database.fetch_shared(slow, shared, (word,))) for word in "ab"]
    await asyncio.sleep(0.1)  # the shared run has its turn: 2 s of sleep for the two
    assert database.in_use == 1
    for request in asked:
        request.cancel()
    for _ in range(100):  # well before the 2 s the run would take
        if database.in_use == 0:
            break
        await asyncio.sleep(0.01)
    assert database.in_use == 0, "the run went on for nobody"
    assert await alone(database, 2) == await database.fetch_shared(STATEMENT, SHARED or "", args(2))


async def test_the_shared_form_leaves_the_statements_own_names_alone(database: Database) -> None:
    counting = "SELECT (SELECT count(*) FROM generate_series(1, 9) p (c1) WHERE p.c1 <= $1::int)::text"
    shared = shared_form(counting)
    assert shared is not None
    before = database.statements
    async with every_turn_held(database, 3):
        asked = [asyncio.create_task(database.fetch_shared(counting, shared, (n,))) for n in (2, 5, 7)]
    assert await asyncio.gather(*asked) == ["2", "5", "7"]
    assert database.statements - before == 2


DETAIL = "query Detail($code: String!) { contactPoint(code: $code) { code name district { code } cases(first: 3) { totalCount nodes { number status } } } }"


def test_detail_requests_waiting_for_the_one_connection_share_its_next_turn(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_EXECUTION="compiled", LIAISON_POOL_SIZE="1") as client:
        nodes = client.post("/graphql", json={"query": "{ contactPoints(first: 6) { nodes { code } } }"})
        codes = [node["code"] for node in nodes.json()["data"]["contactPoints"]["nodes"]]

        def ask(code: str) -> Any:
            response = client.post("/graphql", json={"query": DETAIL, "variables": {"code": code}})
            assert response.status_code == 200, response.text
            return response.json()["data"]

        expected = [ask(code) for code in codes]  # each alone: the first renders the statement
        db: Database = client.app.state.db  # type: ignore[attr-defined]
        release = asyncio.Event()  # waited on and set in the app's event loop

        async def hold() -> None:
            async with db.connection():
                await release.wait()

        before = db.statements
        held = client.portal.start_task_soon(hold)  # type: ignore[union-attr]
        with ThreadPoolExecutor(len(codes)) as pool:
            answers = [pool.submit(ask, code) for code in codes]
            for _ in range(500):
                if db.sharing >= len(codes):
                    break
                threading.Event().wait(0.01)
            waited = db.sharing
            client.portal.call(release.set)  # type: ignore[union-attr]
            got = [answer.result(timeout=30) for answer in answers]
        held.result(timeout=30)
    assert waited == len(codes)
    assert got == expected
    assert db.statements - before == 2  # the holder's turn, then one for the six
