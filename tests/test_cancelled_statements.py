"""A statement PostgreSQL cancels (statement_timeout, an operator's pg_cancel_backend) is a
coded, retryable answer on every path, never a 500 nor a second wait on another path."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import asyncpg
import pytest
from starlette.testclient import TestClient

from .support import service

QUERY = {"query": 'query { contactPoint(code: "CP310115-00376") { code name currentRating { stars } } }'}
"""Reads the ratings, which no version covers: its statement runs every time (``db.answers``)."""
WAITING = (
    "SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity"
    " WHERE application_name = 'liaison-graph' AND wait_event_type = 'Lock'"
)


async def cancelled_while_locked(db_dsn: str, client: TestClient) -> dict[str, Any]:
    """Send QUERY while contact_point is locked; cancel the service's waiting statement."""
    answer: dict[str, Any] = {}

    def send() -> None:
        response = client.post("/graphql", json=QUERY)
        answer.update(status=response.status_code, body=response.json(), headers=response.headers)

    holder, other = await asyncpg.connect(db_dsn), await asyncpg.connect(db_dsn)
    try:
        async with holder.transaction():
            await holder.execute("LOCK TABLE contact_point IN ACCESS EXCLUSIVE MODE")
            sender = threading.Thread(target=send)
            sender.start()
            while sender.is_alive():
                await other.fetchval(WAITING)  # every statement that waits, on whichever path
                await asyncio.sleep(0.05)
    finally:
        await holder.close()
        await other.close()
    sender.join()
    return answer


@pytest.mark.parametrize("execution", ["compiled", "dataloader"])
async def test_a_cancelled_read_is_statement_cancelled(db_dsn: str, execution: str) -> None:
    with service(db_dsn, LIAISON_EXECUTION=execution) as client:
        client.event_hooks = {"response": []}
        warm = client.post("/graphql", json=QUERY)  # the compiled path's second request takes the fast lane
        assert warm.status_code == 200
        answer = await cancelled_while_locked(db_dsn, client)
    assert answer["status"] == 200, answer
    assert [e["extensions"]["code"] for e in answer["body"]["errors"]] == ["STATEMENT_CANCELLED"], answer
    assert "nothing was written" not in answer["body"]["errors"][0]["message"].lower()
