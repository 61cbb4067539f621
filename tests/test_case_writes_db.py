"""The write path under concurrency, in the manner of PostgreSQL's isolation tester: sessions
on their own connections, steps in a fixed order, the outcome each order must have."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from decimal import Decimal
from typing import Any

import asyncpg
import pytest

from db.access import Role
from db.cases_write import Claim, Intake, Refused, Step, Writer, open_case, step_case

from .writes_support import PUDONG_POINT

STAFF = Writer("key:0123456789ab", Role.CONTACT_POINT, "req", contact_point_codes=(PUDONG_POINT,))
INTAKE = Intake(PUDONG_POINT, "complaint", "on_site", "product_quality", "", None, None, None, Decimal("10"), None)


def claim(mutation: str, key: str | None = None, payload: str = "") -> Claim:
    return Claim(mutation, key, hashlib.sha256(payload.encode()).digest())


class Counting:
    """An asyncpg connection that counts the statements sent through it (BEGIN and COMMIT,
    sent by ``transaction()``, are not counted)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn, self.statements = conn, 0

    def transaction(self) -> Any:
        return self.conn.transaction()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.conn, name)

        async def counted(*args: Any, **kwargs: Any) -> Any:
            self.statements += 1
            return await method(*args, **kwargs)

        return counted if name in ("fetch", "fetchrow", "fetchval", "execute") else method


async def test_a_write_costs_at_most_three_statements(conn: asyncpg.Connection) -> None:
    counting = Counting(conn)
    opened = await open_case(counting, STAFF, claim("caseOpen", "k1"), INTAKE)
    number = await conn.fetchval('SELECT number FROM "case" WHERE id = $1', opened.case_id)
    assert counting.statements == 3
    counting.statements = 0
    await open_case(counting, STAFF, claim("caseOpen", "k1"), INTAKE)
    assert counting.statements == 1  # a replay is read with the claim
    for mutation, step in (
        ("caseAccept", Step(number, 1, "accepted")),
        ("caseStartMediation", Step(number, 2, "mediation_started", note="both sides called")),
        ("caseAddNote", Step(number, 3, note="an offer")),
        ("caseSettle", Step(number, 4, "settled", amount_recovered=Decimal("5"), sets_recovered=True)),
    ):
        counting.statements = 0
        await step_case(counting, STAFF, claim(mutation, mutation), step)
        assert counting.statements == 3, mutation
    counting.statements = 0
    with pytest.raises(Refused):
        await step_case(counting, STAFF, claim("caseAddNote"), Step(number, 5, note="too late"))
    assert counting.statements == 1


async def two_sessions(dsn: str) -> tuple[asyncpg.Connection, asyncpg.Connection]:
    return await asyncpg.connect(dsn), await asyncpg.connect(dsn)


async def blocked(observer: asyncpg.Connection, waiter: asyncpg.Connection) -> None:
    pid = waiter.get_server_pid()
    for _ in range(500):
        if await observer.fetchval("SELECT cardinality(pg_blocking_pids($1)) > 0", pid):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second session never waited for the first one's lock")


async def a_received_case(conn: asyncpg.Connection) -> str:
    written = await open_case(conn, STAFF, claim("caseOpen"), INTAKE)
    return await conn.fetchval('SELECT number FROM "case" WHERE id = $1', written.case_id)


@pytest.mark.parametrize("a_ends", ["commit", "rollback"])
async def test_two_writers_of_one_version(db_dsn: str, a_ends: str) -> None:
    """Permutation: A writes v1 (open transaction), B writes v1 (blocks on A's row), A ends.
    A commit: B gets STALE_VERSION naming version 2. A rollback: B's write goes through."""
    a, b = await two_sessions(db_dsn)
    try:
        number = await a_received_case(a)
        outer = a.transaction()
        await outer.start()
        await step_case(a, STAFF, claim("caseAccept"), Step(number, 1, "accepted"))
        second = asyncio.create_task(step_case(b, STAFF, claim("caseAddNote"), Step(number, 1, note="from B")))
        await blocked(a, b)  # B waits for A's row lock, as the isolation tester waits for a blocked step
        await (outer.commit() if a_ends == "commit" else outer.rollback())
        if a_ends == "commit":
            with pytest.raises(Refused) as refused:
                await second
            assert (refused.value.code, refused.value.current_version) == ("STALE_VERSION", 2)
        else:
            assert (await second).event is not None
        kinds = await a.fetch(
            'SELECT e.kind FROM case_event e JOIN "case" c ON c.id = e.case_id WHERE c.number = $1 ORDER BY e.id',
            number,
        )
        assert [k[0] for k in kinds] == ["opened", "accepted"] if a_ends == "commit" else ["opened", "note_added"]
    finally:
        await a.close()
        await b.close()


async def test_a_read_then_a_committed_write_makes_the_read_stale(db_dsn: str) -> None:
    """Permutation: A reads v1, B reads v1, A writes and commits, B writes: STALE_VERSION, 2."""
    a, b = await two_sessions(db_dsn)
    try:
        number = await a_received_case(a)
        seen_a = await a.fetchval('SELECT version FROM "case" WHERE number = $1', number)
        seen_b = await b.fetchval('SELECT version FROM "case" WHERE number = $1', number)
        await step_case(a, STAFF, claim("caseAccept"), Step(number, seen_a, "accepted"))
        with pytest.raises(Refused) as refused:
            await step_case(b, STAFF, claim("caseAddNote"), Step(number, seen_b, note="B's note"))
        assert (refused.value.code, refused.value.current_version) == ("STALE_VERSION", 2)
    finally:
        await a.close()
        await b.close()


async def test_concurrent_intakes_get_unique_numbers_without_gaps(db_dsn: str) -> None:
    """20 intakes at once at one district and year, plus some that fail after taking a
    number: the numbers issued are unique and consecutive; a failed intake gives its back."""
    pool = await asyncpg.create_pool(db_dsn, min_size=10, max_size=10)
    try:

        async def one(i: int) -> int | str:
            amount = Decimal("-1") if i % 5 == 4 else Decimal(i)  # the database refuses these after numbering
            async with pool.acquire() as conn:
                try:
                    written = await open_case(
                        conn, STAFF, claim("caseOpen", f"n{i}"), dataclasses.replace(INTAKE, amount_claimed=amount)
                    )
                except Refused as refused:
                    return refused.code
                return written.case_id

        outcomes = await asyncio.gather(*(one(i) for i in range(25)))
        assert sorted(o for o in outcomes if isinstance(o, str)) == ["NEGATIVE_AMOUNT"] * 5
        ids = [o for o in outcomes if isinstance(o, int)]
        async with pool.acquire() as conn:
            numbers = await conn.fetch('SELECT number FROM "case" WHERE id = ANY($1) ORDER BY number', ids)
            last = await conn.fetchval(
                "SELECT last FROM case_number_counter WHERE district_code = '310115'"
                " AND year = extract(year FROM now() AT TIME ZONE 'Asia/Shanghai')"
            )
    finally:
        await pool.close()
    sequence = [int(r[0][-6:]) for r in numbers]
    assert len(sequence) == 20 and sequence == list(range(sequence[0], sequence[0] + 20))
    assert last == sequence[-1]


async def test_concurrent_duplicates_make_one_case(db_dsn: str) -> None:
    """Ten copies of one request with one key at once: one case; the others replay it or are
    told the key is in use, never a second case."""
    pool = await asyncpg.create_pool(db_dsn, min_size=10, max_size=10)
    try:

        async def one() -> int | str:
            async with pool.acquire() as conn:
                try:
                    return (await open_case(conn, STAFF, claim("caseOpen", "same-key"), INTAKE)).case_id
                except Refused as refused:
                    return refused.code

        outcomes = await asyncio.gather(*(one() for _ in range(10)))
        async with pool.acquire() as conn:
            keyed = await conn.fetchval("SELECT count(*) FROM idempotency_key WHERE key = 'same-key'")
    finally:
        await pool.close()
    assert {o for o in outcomes if isinstance(o, str)} <= {"IDEMPOTENCY_KEY_IN_USE"}
    assert len({o for o in outcomes if isinstance(o, int)}) == 1 and keyed == 1


async def test_a_retry_whose_first_attempt_commits_during_its_claim_is_told_to_retry(db_dsn: str) -> None:
    """Permutation: the retry's claim takes its snapshot; the first attempt commits; the
    retry then gets the key's lock but its snapshot shows neither the key nor the new
    version. It must not answer STALE_VERSION (the client would write again with a new
    key): it is told the key is in use, and its next retry replays the first result."""
    gate, first_conn = await two_sessions(db_dsn)
    database = await gate.fetchval("SELECT current_database()")
    # The retry's session stops inside its claim statement, after its snapshot, at a lock the test holds.
    await gate.execute(
        "CREATE FUNCTION public.pg_try_advisory_xact_lock(bigint) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$"
        " BEGIN IF current_setting('application_name') = 'retry' THEN"
        " PERFORM pg_catalog.pg_advisory_lock_shared(7); PERFORM pg_catalog.pg_advisory_unlock_shared(7); END IF;"
        " RETURN pg_catalog.pg_try_advisory_xact_lock($1); END $$"
    )
    await gate.execute(f'ALTER DATABASE "{database}" SET search_path = public, pg_catalog')
    retry_conn = await asyncpg.connect(db_dsn, server_settings={"application_name": "retry"})
    try:
        number = await a_received_case(first_conn)
        note = claim("caseAddNote", "K-race", "one note")
        step = Step(number, 1, note="one note")
        await gate.execute("SELECT pg_advisory_lock(7)")
        retry = asyncio.create_task(step_case(retry_conn, STAFF, note, step))
        await blocked(gate, retry_conn)
        first = await step_case(first_conn, STAFF, note, step)
        assert first.event is not None
        await gate.execute("SELECT pg_advisory_unlock(7)")
        with pytest.raises(Refused) as refused:
            await retry
        assert refused.value.code == "IDEMPOTENCY_KEY_IN_USE"
        again = await step_case(first_conn, STAFF, note, step)
        assert again.replayed and again.event == first.event
        notes = await gate.fetchval(
            "SELECT count(*) FROM case_event e JOIN \"case\" c ON c.id = e.case_id WHERE c.number = $1 AND e.note = 'one note'",
            number,
        )
        assert notes == 1
    finally:
        for conn in (gate, first_conn, retry_conn):
            await conn.close()
