"""A load balancer sees an outage as a 5xx where GraphQL over HTTP allows it.

Under ``application/graphql-response+json`` a response that produced no data because the
database is away answers 503 with ``Retry-After``; under ``application/json`` it stays 200,
as the specification requires. Both execution paths agree, the compiled fast lane
included, and /queries/{name} (not GraphQL over HTTP) always answers 503. The database is
made slow for real: another session holds a lock on ``contact_point`` until the database
bound (LIAISON_DB_TIMEOUT) gives up on the statement.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from db import saved
from schema.compiled import HEADER

from .support import service

QUERY = "query FirstPoint { contactPoints(first: 1) { nodes { code currentRating { stars } } } }"
"""Reads the ratings, which no version covers: its statement runs every time (``db.answers``)."""
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def codes(body: dict) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", ())]


@pytest.mark.parametrize("execution", ["compiled", "dataloader"])
async def test_no_data_for_a_database_fault_is_a_503_by_media_type(db_dsn: str, execution: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        await saved.save(conn, "FirstPoint", QUERY, "FirstPoint", "tests")
        with service(db_dsn, role=None, LIAISON_DB_TIMEOUT="1", LIAISON_EXECUTION=execution) as client:

            def post(accept: str) -> tuple[int, dict, dict]:
                payload = {"query": QUERY, "operationName": "FirstPoint"}  # the fast lane keys on the name sent
                response = client.post("/graphql", json=payload, headers={"Accept": accept})
                return response.status_code, response.json(), dict(response.headers)

            for accept in (JSON, GRAPHQL_RESPONSE):  # the second time, compiled: the fast lane serves it
                assert post(accept)[0] == 200
            async with conn.transaction():
                await conn.execute("LOCK TABLE contact_point IN ACCESS EXCLUSIVE MODE")
                answers = {accept: await asyncio.to_thread(post, accept) for accept in (JSON, GRAPHQL_RESPONSE)}
                queries = await asyncio.to_thread(client.get, "/queries/FirstPoint")
        for accept, status in ((JSON, 200), (GRAPHQL_RESPONSE, 503)):
            got, body, headers = answers[accept]
            assert (got, codes(body)) == (status, ["DATABASE_UNAVAILABLE"]), (accept, body)
            assert not (body["data"] or {}).get("contactPoints")
            assert headers.get("retry-after") == ("5" if status == 503 else None)
            if execution == "compiled":
                assert headers[HEADER.lower()] == "compiled"  # answered by the fast lane
        assert queries.status_code == 503 and codes(queries.json()) == ["DATABASE_UNAVAILABLE"], queries.text
        assert queries.headers["Retry-After"] == "5"
    finally:
        await conn.close()
