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
import logging
import os
import signal
import time
from typing import Any
from unittest.mock import patch

import asyncpg
import orjson
import pytest
from starlette.testclient import TestClient

import api.fast_lane
from api.app import create_app
from api.settings import Settings
from db.embedded import EmbeddedPostgres
from schema.compiled import HEADER

from .support import service
from .test_database_faults import server_processes

QUERY = "query FirstPoints($first: Int!) { contactPoints(first: $first) { nodes { code name district { code } } } }"
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
    query = "{ contactPoints(first: 3) { nodes { code name district { code } } } }"
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


LANE_ENV = {
    "LIAISON_EXECUTION": "compiled",
    "LIAISON_MAX_BODY_BYTES": "2000",
    "LIAISON_BUDGET_POINTS": "60",
    "LIAISON_BUDGET_WINDOW": "2000000000",  # one window until 2033: no reset between the two sides
}
"""A small body limit and budget, so that both are reached."""

Sent = tuple[str, str, dict[str, str], Any]
"""method, path, headers, body (JSON, or bytes as they are)."""


def _requests() -> list[Sent]:
    """What the lane's door must answer as the full stack does: requests it serves, and ones
    it refuses at admission, hands on, or never takes."""
    json_type = {"content-type": JSON}
    sent: list[Sent] = [
        ("POST", "/graphql", {}, BODY),  # the pipeline's first, which keeps the statement
        ("POST", "/graphql", {}, BODY),
        ("POST", "/graphql", {"accept": GRAPHQL_RESPONSE}, BODY),
        ("POST", "/graphql", {"accept": f"{JSON}, {GRAPHQL_RESPONSE};q=0.5"}, BODY),
        ("POST", "/graphql", {}, {**BODY, "variables": {"first": 5}}),  # a new value of a known shape
        ("POST", "/graphql", {}, {"query": QUERY, "variables": {"first": 3}}),  # no operationName
        ("POST", "/graphql", {}, {**BODY, "variables": {"first": "three"}}),  # does not coerce
        ("POST", "/graphql", {}, {**BODY, "variables": {"first": 100_000}}),  # past the page limit
        ("POST", "/graphql", {}, {**BODY, "variables": None}),  # a required variable missing
        ("POST", "/graphql", {"authorization": "Bearer not-a-token"}, BODY),  # 401
        ("POST", "/graphql", {"authorization": ""}, BODY),  # anonymous: another viewer, not yet known
        ("POST", "/graphql", {"accept": "text/html"}, BODY),  # 406
        ("POST", "/graphql", {"content-type": "text/plain"}, orjson.dumps(BODY)),  # 415
        ("POST", "/graphql", json_type, b'{"query": '),  # not JSON
        ("POST", "/graphql", json_type, b'{"query": 3}'),  # a field of the wrong type
        ("POST", "/graphql", {}, {**BODY, "variables": {"first": 3, "pad": "x" * 2000}}),  # 413
        ("POST", "/graphql", {}, [BODY, BODY]),  # a batch
        ("POST", "/graphql", {}, {**BODY, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": SHA}}}),
        ("POST", "/graphql", {}, {"query": "{ nope }"}),  # does not validate
        ("POST", "/graphql", {"x-router-secret": "wrong"}, BODY),
        ("GET", "/graphql?query=" + QUERY.replace(" ", "+") + "&variables=%7B%22first%22%3A3%7D", {}, None),
        ("POST", "/healthz", {}, BODY),  # 405 by the router
    ]
    return sent + [("POST", "/graphql", {}, BODY)] * 12  # until the budget is spent: 429


def _send(client: TestClient, index: int, sent: Sent) -> tuple[int, list[tuple[str, str]], bytes]:
    method, path, headers, body = sent
    headers = {"x-request-id": f"compare-{index}", **headers}
    if isinstance(body, bytes):
        response = client.request(method, path, headers=headers, content=body)
    else:
        response = client.request(method, path, headers=headers, json=body)
    sent_headers = list(response.headers.multi_items())
    if response.status_code == 429:  # seconds until the window ends, as the clock turns
        sent_headers = [(k, "(seconds)" if k == "retry-after" else v) for k, v in sent_headers]
    return response.status_code, sent_headers, response.content


def test_the_lanes_door_answers_as_the_full_stack_does(demo_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    """Each request sent to two services over the same database, one without the door
    (``LaneFront``): the same status, headers and body, the same access line, metrics and
    counts; and the door served the known ones, which the pipeline never saw."""
    lane_in_pipeline: list[object] = []
    original = api.fast_lane.serve_known

    async def spied(request: Any) -> Any:
        lane_in_pipeline.append(request.app)
        return await original(request)

    caplog.set_level(logging.INFO, logger="liaison.access")
    with (
        patch("api.graphql.serve_known", spied),
        service(demo_dsn, **LANE_ENV) as full,
        service(demo_dsn, **LANE_ENV) as lane,
    ):
        full.app.middleware_stack = full.app.middleware_stack.app  # type: ignore[attr-defined]
        answers, lines = [], []
        for index, sent in enumerate(_requests()):
            for client in (full, lane):
                before = len(caplog.records)
                answers.append(_send(client, index, sent))
                lines.append([_line(record) for record in caplog.records[before:] if record.name == "liaison.access"])
        counts = [served(client) for client in (full, lane)]
        metrics = [_observed(client) for client in (full, lane)]
        lane_app = lane.app
    for index, sent in enumerate(_requests()):
        assert answers[2 * index] == answers[2 * index + 1], (index, sent[:3])
        assert lines[2 * index] == lines[2 * index + 1], (index, sent[:3])
        assert len(lines[2 * index]) == 1
    statuses = {status for status, _, _ in answers}
    assert {200, 400, 401, 405, 406, 413, 415, 429} <= statuses
    assert counts[0] == counts[1] and counts[1]["fast_lane"] >= 5, counts
    assert metrics[0] == metrics[1]
    assert lane_app not in lane_in_pipeline  # every lane answer came from the door


def _line(record: logging.LogRecord) -> dict[str, Any]:
    """The access line's fields but its duration."""
    fields = {key: getattr(record, key) for key in ("request_id", "method", "path", "status", "operation")}
    for key in ("operation_type", "operations", "execution", "cost", "credential", "role", "errors", "trace_id"):
        fields[key] = getattr(record, key)
    return fields


def _observed(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The request counts and error counts of the app's metrics."""
    metrics = client.app.state.telemetry.metrics  # type: ignore[attr-defined]
    samples = {}
    for metric in (metrics.request_seconds, metrics.errors):
        for family in metric.collect():
            for sample in family.samples:
                if sample.name.endswith(("_count", "_total")):
                    samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return samples
