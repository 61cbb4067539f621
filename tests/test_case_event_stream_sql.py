"""The case event stream's order, in the manner of PostgreSQL's isolation tests: two
sessions, a fixed interleaving, the positions each permutation must give."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

OPEN_CASES = "SELECT id FROM \"case\" WHERE status IN ('received', 'accepted', 'mediating') ORDER BY id LIMIT 2"
CHANGE = "UPDATE \"case\" SET summary = summary || '.' WHERE id = $1"
EVENT_ID = "SELECT current_setting('liaison.event_id')::bigint"


@pytest.fixture
async def sessions(db_dsn: str) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Connection]]:
    first, second = await asyncpg.connect(db_dsn), await asyncpg.connect(db_dsn)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def change(session: asyncpg.Connection, case_id: int) -> int:
    """Begin, change the case (its event is written), and return the new event's id."""
    await session.execute("BEGIN")
    await session.execute(CHANGE, case_id)
    return await session.fetchval(EVENT_ID)


async def positions(conn: asyncpg.Connection) -> list[int]:
    """Event ids in stream order."""
    return [r[0] for r in await conn.fetch("SELECT event_id FROM case_event_position ORDER BY position")]


async def test_an_event_committed_later_comes_later_whatever_its_id(
    conn: asyncpg.Connection, sessions: tuple[asyncpg.Connection, asyncpg.Connection]
) -> None:
    first, second = sessions
    a, b = [r[0] for r in await conn.fetch(OPEN_CASES)]
    listener = asyncio.Queue[str]()
    await conn.add_listener("liaison_case_event", lambda *args: listener.put_nowait(args[3]))
    early_id = await change(first, a)
    late_id = await change(second, b)
    assert early_id < late_id  # ids are drawn in statement order
    await second.execute("COMMIT")
    seen_then = await conn.fetch("SELECT position, event_id FROM case_event_position")
    assert [r[1] for r in seen_then] == [late_id]
    await first.execute("COMMIT")
    assert await positions(conn) == [late_id, early_id]  # commit order
    # A reader that had seen the first commit's position finds the later one past it.
    (seen_position,) = [r[0] for r in seen_then]
    after = await conn.fetch("SELECT event_id FROM case_event_position WHERE position > $1", seen_position)
    assert [r[0] for r in after] == [early_id]
    # Notifications carry the positions, in commit order.
    notified = [int(await asyncio.wait_for(listener.get(), 30)) for _ in range(2)]
    assert notified == sorted(notified) and notified[0] == seen_position


async def test_a_writer_committing_holds_the_next_until_it_is_visible(
    conn: asyncpg.Connection, sessions: tuple[asyncpg.Connection, asyncpg.Connection]
) -> None:
    first, second = sessions
    a, b = [r[0] for r in await conn.fetch(OPEN_CASES)]
    first_id = await change(first, a)
    second_id = await change(second, b)
    await first.execute("SET CONSTRAINTS case_event_position IMMEDIATE")  # first takes its position now
    committing = asyncio.create_task(second.execute("COMMIT"))
    pid = second.get_server_pid()
    for _ in range(300):  # until the second session waits on the first's lock
        waiting = await conn.fetchval("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", pid)
        if waiting == "Lock":
            break
        await asyncio.sleep(0.1)
    assert waiting == "Lock" and not committing.done()
    await first.execute("COMMIT")
    await asyncio.wait_for(committing, 30)
    assert await positions(conn) == [first_id, second_id]


async def test_loads_of_history_are_not_streamed_and_positions_never_change(conn: asyncpg.Connection) -> None:
    case_id = (await conn.fetch(OPEN_CASES))[0][0]
    await conn.execute(
        "INSERT INTO case_event (case_id, at, status, actor, note) VALUES ($1, now(), 'received', 'import', '')",
        case_id,
    )
    assert await positions(conn) == []
    await conn.execute(CHANGE, case_id)
    assert len(await positions(conn)) == 1
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await conn.execute("UPDATE case_event_position SET committed_at = now()")
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await conn.execute("DELETE FROM case_event_position")
