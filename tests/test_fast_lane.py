"""The fast lane in the production mode (``LIAISON_EXECUTION=compiled``), through HTTP.

Every other test runs in verify mode, which routes nothing to the fast lane. Here the
engine's counts (``QueryEngine.served``) show which requests it served: a request the
compiled path served before, with the pipeline's answer in one statement; never a request
routed elsewhere. Its database-fault branch runs on real faults: the backend running its
statement terminated, and the server killed with its backends; both answer ``DATABASE_UNAVAILABLE`` at once
(503 with ``Retry-After`` under ``application/graphql-response+json``) and the lane serves
again once the database is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import signal
import time
from typing import Any

import asyncpg
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from db.embedded import EmbeddedPostgres
from schema.compiled import HEADER

from .support import service
from .test_database_faults import server_processes

QUERY = "query FirstPoints($first: Int!) { contactPoints(first: $first) { nodes { code name district { code } currentRating { stars } } } }"
"""Reads the ratings, which no version covers: run every time, never a kept answer (``db.answers``)."""
BODY = {"query": QUERY, "variables": {"first": 3}, "operationName": "FirstPoints"}
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
SHA = hashlib.sha256(QUERY.encode()).hexdigest()


def served(client: TestClient) -> dict[str, int]:
    return dict(client.app.state.engine.served)  # type: ignore[attr-defined]


def codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", ())]


def test_a_request_served_compiled_before_takes_the_fast_lane(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_EXECUTION="compiled") as client:
        db = client.app.state.db  # type: ignore[attr-defined]
        answers = []
        for _ in range(3):
            before = db.statements
            response = client.post("/graphql", json=BODY)
            answers.append((response.status_code, response.headers[HEADER], db.statements - before))
            assert response.json()["data"]["contactPoints"]["nodes"] == first_points(client)
        counts = served(client)
    assert answers == [(200, "compiled", 1)] * 3
    # The first through the pipeline (which keeps the statement), the others in the lane.
    assert (counts["compiled"], counts["fast_lane"]) == (3, 2)


def first_points(client: TestClient) -> list[dict[str, Any]]:
    """The first three contact points, as the DataLoader path reads them."""
    query = "{ contactPoints(first: 3) { nodes { code name district { code } currentRating { stars } } } }"
    response = client.post("/graphql", json={"query": query}, headers={"apollo-federation-include-trace": "ftv1"})
    assert response.headers[HEADER] == "dataloader"
    return response.json()["data"]["contactPoints"]["nodes"]


@pytest.mark.parametrize(
    ("env", "headers", "body"),
    [
        ({"LIAISON_EXECUTION": "verify"}, {}, BODY),
        ({"LIAISON_EXECUTION": "dataloader"}, {}, BODY),
        ({}, {"apollo-federation-include-trace": "ftv1"}, BODY),  # a router wants per-field timings
        ({}, {}, [BODY]),  # a batch
        ({}, {}, {**BODY, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": SHA}}}),
    ],
    ids=["verify", "dataloader", "router-trace", "batch", "persisted-query"],
)
def test_requests_routed_elsewhere_never_take_the_fast_lane(
    demo_dsn: str, env: dict[str, str], headers: dict[str, str], body: Any
) -> None:
    with service(demo_dsn, **{"LIAISON_EXECUTION": "compiled", **env}) as client:
        for _ in range(3):
            response = client.post("/graphql", json=body, headers=headers)
            assert response.status_code == 200, response.text
        counts = served(client)
    assert counts.get("fast_lane", 0) == 0
    assert sum(counts.get(path, 0) for path in ("compiled", "dataloader", "verified")) == 3


def test_a_trusted_documents_only_service_never_takes_the_fast_lane(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_EXECUTION="compiled", LIAISON_TRUSTED_DOCUMENTS_ONLY="true") as client:
        for _ in range(2):
            client.post("/graphql", json=BODY)
        assert served(client).get("fast_lane", 0) == 0


async def _backend_waiting_for_a_lock(conn: asyncpg.Connection) -> int:
    deadline = time.monotonic() + 10
    while True:
        pid = await conn.fetchval("SELECT pid FROM pg_locks WHERE NOT granted AND relation = 'contact_point'::regclass")
        if pid is not None:
            return int(pid)
        assert time.monotonic() < deadline, "the fast lane's statement never reached the database"
        await asyncio.sleep(0.05)


async def test_a_terminated_statement_in_the_fast_lane_answers_database_unavailable(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        with service(db_dsn, role=None, LIAISON_EXECUTION="compiled") as client:

            def post(accept: str) -> tuple[int, dict[str, Any], dict[str, str]]:
                response = client.post("/graphql", json=BODY, headers={"Accept": accept})
                return response.status_code, response.json(), dict(response.headers)

            assert post(JSON)[0] == 200  # served by the pipeline, which keeps the statement
            answers = {}
            for accept in (JSON, GRAPHQL_RESPONSE):
                async with conn.transaction():
                    await conn.execute("LOCK TABLE contact_point IN ACCESS EXCLUSIVE MODE")
                    answer = asyncio.create_task(asyncio.to_thread(post, accept))
                    await conn.execute("SELECT pg_terminate_backend($1)", await _backend_waiting_for_a_lock(conn))
                    answers[accept] = await answer
            recovered = await asyncio.to_thread(post, GRAPHQL_RESPONSE)
            counts = served(client)
    finally:
        await conn.close()
    for accept, status in ((JSON, 200), (GRAPHQL_RESPONSE, 503)):
        got, body, headers = answers[accept]
        assert (got, codes(body), body["data"]) == (status, ["DATABASE_UNAVAILABLE"], None), (accept, body)
        assert body["errors"][0]["path"] == ["contactPoints"]  # where the pipeline reports it
        assert "cost" in body["extensions"]
        assert ("retry-after" in headers) == (status == 503)
    assert recovered[0] == 200 and len(recovered[1]["data"]["contactPoints"]["nodes"]) == 3
    assert counts["fast_lane"] == 3  # both faults and the recovery


def test_a_killed_server_is_answered_by_the_fast_lane_at_once(server: EmbeddedPostgres) -> None:
    bound = 2.0
    settings = Settings.from_env(
        {"DATABASE_URL": server.dsn, "LIAISON_DB_TIMEOUT": str(bound), "LIAISON_EXECUTION": "compiled"}
    )
    with TestClient(create_app(settings)) as client:
        headers = {"Accept": GRAPHQL_RESPONSE}
        assert client.post("/graphql", json=BODY, headers=headers).status_code == 200
        assert server.pid is not None
        backends = server_processes(server.pid)[1:]
        server.kill()
        for pid in backends:  # at once, as in a crash: not when each notices its postmaster is gone
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        started = time.monotonic()
        response = client.post("/graphql", json=BODY, headers=headers)
        elapsed = time.monotonic() - started
        assert response.status_code == 503 and codes(response.json()) == ["DATABASE_UNAVAILABLE"], response.text
        assert "Retry-After" in response.headers
        assert elapsed < bound + 1.5, f"took {elapsed:.1f}s, bound is {bound}s"
        assert served(client)["fast_lane"] == 1
        server.start()
        deadline = time.monotonic() + 10
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.2)
        assert client.post("/graphql", json=BODY, headers=headers).status_code == 200
        assert served(client)["fast_lane"] == 2


def test_a_new_value_of_a_known_shape_takes_the_fast_lane_at_its_own_cost(demo_dsn: str) -> None:
    with service(demo_dsn) as verified:  # the pipeline's measure of each page size
        costs = {n: verified.post("/graphql", json={**BODY, "variables": {"first": n}}).json() for n in (5, 9)}
    with service(demo_dsn, LIAISON_EXECUTION="compiled") as client:
        assert client.post("/graphql", json=BODY).headers[HEADER] == "compiled"  # the pipeline plans the shape
        for n in (5, 9):
            response = client.post("/graphql", json={**BODY, "variables": {"first": n}})
            body = response.json()
            assert response.headers[HEADER] == "compiled"
            assert body["data"] == costs[n]["data"]
            assert len(body["data"]["contactPoints"]["nodes"]) == n
            assert (
                body["extensions"]["cost"]["requestedQueryCost"] == costs[n]["extensions"]["cost"]["requestedQueryCost"]
            )
        counts = served(client)
    assert (counts["compiled"], counts["fast_lane"]) == (3, 2)
