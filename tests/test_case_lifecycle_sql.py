"""The lifecycle and the audit held by the database itself, whatever writes: plain SQL here."""

from __future__ import annotations

import itertools
import json

import asyncpg
import pytest

STATUSES = ("received", "accepted", "mediating", "settled", "not_settled", "transferred")
CLOSED = {"settled", "not_settled", "transferred"}
LEGAL = {
    ("received", "accepted"),
    ("accepted", "mediating"),
    ("mediating", "settled"),
    ("mediating", "not_settled"),
    ("received", "transferred"),
    ("accepted", "transferred"),
    ("mediating", "transferred"),
    ("settled", "mediating"),
    ("not_settled", "mediating"),
    ("transferred", "accepted"),
}


async def a_case_in(conn: asyncpg.Connection, status: str) -> int:
    """A demo case in ``status``."""
    return await conn.fetchval('SELECT min(id) FROM "case" WHERE status = $1', status)


@pytest.mark.parametrize(("before", "after"), list(itertools.permutations(STATUSES, 2)))
async def test_every_status_change_is_allowed_only_as_the_lifecycle_says(
    conn: asyncpg.Connection, before: str, after: str
) -> None:
    case_id = await a_case_in(conn, before)
    closing = "now()" if after in CLOSED else "NULL"
    update = f'UPDATE "case" SET status = $2, closed_at = {closing} WHERE id = $1 RETURNING version'
    version = await conn.fetchval('SELECT version FROM "case" WHERE id = $1', case_id)
    events = await conn.fetchval("SELECT count(*) FROM case_event WHERE case_id = $1", case_id)
    if (before, after) in LEGAL:
        assert await conn.fetchval(update, case_id, after) == version + 1
        event = await conn.fetchrow(
            "SELECT status, actor_role, changes FROM case_event WHERE case_id = $1 ORDER BY id DESC LIMIT 1", case_id
        )
        assert (event["status"], event["actor_role"]) == (after, "database")
        assert json.loads(event["changes"])["status"] == {"from": before, "to": after}
    else:
        with pytest.raises(asyncpg.CheckViolationError) as refused:
            await conn.fetchval(update, case_id, after)
        assert refused.value.constraint_name == "case_transition"
        assert await conn.fetchval("SELECT count(*) FROM case_event WHERE case_id = $1", case_id) == events


async def test_a_closed_case_changes_only_by_reopening(conn: asyncpg.Connection) -> None:
    case_id = await a_case_in(conn, "settled")
    with pytest.raises(asyncpg.CheckViolationError) as refused:
        await conn.execute("UPDATE \"case\" SET summary = 'edited' WHERE id = $1", case_id)
    assert refused.value.constraint_name == "case_closed"


async def test_events_are_append_only(conn: asyncpg.Connection) -> None:
    event_id = await conn.fetchval("SELECT min(id) FROM case_event")
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await conn.execute("UPDATE case_event SET note = 'rewritten' WHERE id = $1", event_id)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
        await conn.execute("DELETE FROM case_event WHERE id = $1", event_id)
    assert await conn.fetchval("SELECT count(*) FROM case_event WHERE id = $1", event_id) == 1


async def test_the_writer_named_in_the_transaction_is_the_events_actor(conn: asyncpg.Connection) -> None:
    case_id = await a_case_in(conn, "received")
    async with conn.transaction():
        await conn.execute(
            "SELECT set_config('liaison.actor', 'key:0123456789ab', true),"
            " set_config('liaison.actor_role', 'contact_point', true),"
            " set_config('liaison.request_id', 'req-1', true), set_config('liaison.note', 'called back', true)"
        )
        await conn.execute("UPDATE \"case\" SET status = 'accepted' WHERE id = $1", case_id)
        event_id = int(await conn.fetchval("SELECT current_setting('liaison.event_id')"))
    event = await conn.fetchrow("SELECT * FROM case_event WHERE id = $1", event_id)
    assert (event["case_id"], event["kind"], event["actor"], event["actor_credential"]) == (
        case_id,
        "accepted",
        "key:0123456789ab",
        "key:0123456789ab",
    )
    assert (event["actor_role"], event["request_id"], event["note"]) == ("contact_point", "req-1", "called back")
    assert await conn.fetchval("SELECT current_setting('liaison.actor', true)") in ("", None)


async def test_an_event_never_holds_the_consumers_name_or_phone(conn: asyncpg.Connection) -> None:
    case_id = await a_case_in(conn, "received")
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            "INSERT INTO case_event (case_id, at, status, actor, changes)"
            " VALUES ($1, now(), 'received', 'x', '{\"consumer_phone\": {\"to\": \"13812345678\"}}')",
            case_id,
        )
    await conn.execute(
        "UPDATE \"case\" SET consumer_phone = '13900001111', consumer_name = '王五' WHERE id = $1", case_id
    )
    changes = await conn.fetchval("SELECT changes FROM case_event WHERE case_id = $1 ORDER BY id DESC LIMIT 1", case_id)
    assert "13900001111" not in changes and "王五" not in changes


async def test_events_and_cases_cannot_be_truncated(conn: asyncpg.Connection) -> None:
    events = await conn.fetchval("SELECT count(*) FROM case_event")
    for table in ("case_event", '"case"', "contact_point"):
        with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="append-only"):
            await conn.execute(f"TRUNCATE {table} CASCADE")
    assert await conn.fetchval("SELECT count(*) FROM case_event") == events


async def test_a_case_changes_point_only_when_handed_over_open(conn: asyncpg.Connection) -> None:
    other = await conn.fetchval("SELECT max(id) FROM contact_point")
    move = 'UPDATE "case" SET contact_point_id = $2, status = $3, closed_at = NULL WHERE id = $1'
    for status in ("settled", "mediating"):
        case_id = await a_case_in(conn, status)
        with pytest.raises(asyncpg.CheckViolationError) as refused:
            await conn.execute(move, case_id, other, status)  # moved, but not received anew
        assert refused.value.constraint_name == "case_handover"
    case_id = await a_case_in(conn, "mediating")
    await conn.execute(move, case_id, other, "received")
    event = await conn.fetchrow(
        "SELECT kind, status FROM case_event WHERE case_id = $1 ORDER BY id DESC LIMIT 1", case_id
    )
    assert (event["kind"], event["status"]) == ("handed_over", "received")
