"""A busy service says so (SERVICE_OVERLOADED), distinct from a database that is away.

The pool is made busy for real and without racing: the test takes every connection of the
app's own pool (through its ``Database``, in the app's event loop) and holds them while
requests arrive; the database itself stays healthy, and /readyz, which asks it on a
connection of its own, says so.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import ExitStack

import asyncpg
import pytest
from starlette.testclient import TestClient

from db import saved

from .support import app_state, service

POOL = 2
QUERY = {"query": "{ contactPoints(first: 1) { nodes { code } } }"}
SAVED = "query FirstPoint { contactPoints(first: 1) { nodes { code } } }"


@pytest.fixture
async def client(db_dsn: str) -> AsyncIterator[TestClient]:
    conn = await asyncpg.connect(db_dsn)
    try:
        await saved.save(conn, "FirstPoint", SAVED, "FirstPoint", "tests")
    finally:
        await conn.close()
    env = {
        "LIAISON_POOL_SIZE": str(POOL),
        "LIAISON_DB_TIMEOUT": "1",
        "LIAISON_REQUEST_TIMEOUT": "3",
        "LIAISON_MAX_CONCURRENT_EXECUTIONS": "1",
    }
    with service(db_dsn, role=None, **env) as client:
        yield client


def hold(client: TestClient, stack: ExitStack, context_manager: object) -> None:
    """Enter an async context manager in the app's event loop until ``stack`` closes."""
    stack.enter_context(client.portal.wrap_async_context_manager(context_manager))  # type: ignore[union-attr, arg-type]


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", ())]


def test_a_saturated_pool_is_overload_not_an_outage(client: TestClient) -> None:
    assert client.post("/graphql", json=QUERY).status_code == 200
    with ExitStack() as stack:
        for _ in range(POOL):
            hold(client, stack, app_state(client).db.connection())
        graphql = client.post("/graphql", json=QUERY)
        assert graphql.status_code == 200 and codes(graphql.json()) == ["SERVICE_OVERLOADED"]
        queries = client.get("/queries/FirstPoint")
        assert queries.status_code == 503 and codes(queries.json()) == ["SERVICE_OVERLOADED"], queries.text
        assert queries.headers["Retry-After"] == "1"
        assert client.get("/readyz").status_code == 200  # the database answers: the service is busy, not down
    assert codes(client.post("/graphql", json=QUERY).json()) == []


def test_saved_queries_wait_in_the_same_bulkhead(client: TestClient) -> None:
    assert client.get("/queries/FirstPoint").status_code == 200
    with ExitStack() as stack:
        hold(client, stack, app_state(client).executions)
        waited = client.get("/queries/FirstPoint")  # its turn never comes within the request's time
    assert waited.status_code == 503 and codes(waited.json()) == ["REQUEST_TIMEOUT"], waited.text
