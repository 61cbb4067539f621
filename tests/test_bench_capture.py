"""bench/capture.py's ``compiled_statement``: the replay of our SQL replays what the service
sends, so the statement it gives must answer exactly as the service does."""

from __future__ import annotations

import json

import asyncpg
from starlette.testclient import TestClient

from bench.capture import compiled_statement
from bench.queries import DETAIL_POINT, DOCUMENTS

from .support import data, service


async def test_the_replayed_statement_answers_as_the_service_does(demo_dsn: str) -> None:
    document = (DOCUMENTS / "q3_detail.graphql").read_text()
    variables = {"code": DETAIL_POINT, "cases": 10}
    statement = compiled_statement(document, "Detail", variables)
    assert statement is not None and statement.protocol == "extended"
    conn = await asyncpg.connect(demo_dsn)
    try:
        replayed = json.loads(await conn.fetchval(statement.sql, *statement.args))
    finally:
        await conn.close()
    with service(demo_dsn) as client:
        assert isinstance(client, TestClient)
        served = data(client, document, **variables)
    assert replayed == served
    assert compiled_statement("mutation { __typename }", None, {}) is None
