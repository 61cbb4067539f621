"""Each limit at, just under and just over its threshold, with its code; budgets across processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import graphql
import pytest
from graphql.error import GraphQLSyntaxError
from starlette.testclient import TestClient

from .support import bearer, service


def post(client: TestClient, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    response = client.post("/graphql", json=body, headers=headers or {})
    return response.status_code, response.json()


def codes(body: Any) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def nested(depth: int) -> str:
    """A query exactly ``depth`` fields deep, over the cyclic contact point ↔ district relation."""
    cycle = ["district", "contactPoints(first: 1)", "nodes"]
    leaf = {"district": "code", "contactPoints(first: 1)": "totalCount", "nodes": "code"}
    segments = [cycle[i % 3] for i in range(depth - 2)]
    inner = leaf[segments[-1]] if segments else "code"
    for segment in reversed(segments):
        inner = f"{segment} {{ {inner} }}"
    return f'{{ contactPoint(code: "CP310115-00001") {{ {inner} }} }}'


def test_depth(demo_dsn: str) -> None:
    # Counted in fields: contactPoint > district > contactPoints > nodes > code is 5 deep.
    assert (
        nested(5)
        == '{ contactPoint(code: "CP310115-00001") { district { contactPoints(first: 1) { nodes { code } } } } }'
    )
    with service(demo_dsn, LIAISON_MAX_DEPTH="6") as client:
        for depth in (5, 6):
            status, body = post(client, {"query": nested(depth)})
            assert (status, codes(body)) == (200, []), depth
        status, body = post(client, {"query": nested(7)})
        assert codes(body) == ["QUERY_TOO_DEEP"] and "data" not in body
        assert "7 fields deep; at most 6" in body["errors"][0]["message"]


def test_introspection_does_not_count_towards_depth(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_MAX_DEPTH="3") as client:
        status, body = post(client, {"query": graphql.get_introspection_query()})
        assert status == 200 and "errors" not in body and body["data"]["__schema"]["types"]


def aliased(count: int) -> str:
    return "{ " + " ".join(f"r{i}: regions {{ code }}" for i in range(count)) + " }"


def test_aliases(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_MAX_ALIASES="3") as client:
        for count in (2, 3):
            assert codes(post(client, {"query": aliased(count)})[1]) == []
        body = post(client, {"query": aliased(4)})[1]
        assert codes(body) == ["TOO_MANY_ALIASES"] and "data" not in body


def tokens_of(query: str) -> int:
    """The fewest tokens graphql-core's parser needs for ``query``: the limit that just admits it."""
    for limit in range(1, 1000):
        with contextlib.suppress(GraphQLSyntaxError):
            graphql.parse(query, max_tokens=limit)
            return limit
    raise AssertionError("no limit found")


def test_tokens(demo_dsn: str) -> None:
    query = "{ regions { code name districts { code } } }"
    needed = tokens_of(query)
    for limit, refused in ((needed + 1, False), (needed, False), (needed - 1, True)):
        with service(demo_dsn, LIAISON_MAX_TOKENS=str(limit)) as client:
            body = post(client, {"query": query})[1]
            assert codes(body) == (["TOO_MANY_TOKENS"] if refused else []), limit
            assert ("data" in body) != refused


def test_page_size(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_MAX_PAGE_SIZE="10") as client:
        for first in (9, 10):
            body = post(client, {"query": f"{{ contactPoints(first: {first}) {{ nodes {{ code }} }} }}"})[1]
            assert len(body["data"]["contactPoints"]["nodes"]) == first
        body = post(client, {"query": "{ contactPoints(last: 11) { nodes { code } } }"})[1]
        assert codes(body) == ["BAD_USER_INPUT"] and "between 0 and 10" in body["errors"][0]["message"]
        # Without first/last, the default page shrinks to fit the maximum.
        assert (
            len(post(client, {"query": "{ contactPoints { nodes { code } } }"})[1]["data"]["contactPoints"]["nodes"])
            == 10
        )


COSTLY = "query ($n: Int) { contactPoints(first: $n) { nodes { code district { code } } } }"
"""Costs 2n: n contact points, each with its district; the connection itself is free."""


def test_cost_is_computed_before_execution_and_reported(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_MAX_COST="20") as client:
        for n in (9, 10):
            body = post(client, {"query": COSTLY, "variables": {"n": n}})[1]
            assert codes(body) == []
            assert body["extensions"]["cost"]["requestedQueryCost"] == 2 * n
            assert body["extensions"]["cost"]["maximumAvailable"] == 20
        body = post(client, {"query": COSTLY, "variables": {"n": 11}})[1]
        assert codes(body) == ["QUERY_TOO_COMPLEX"] and "data" not in body
        assert "22 points; at most 20" in body["errors"][0]["message"]


def test_cost_multiplies_nested_pages_and_follows_skip(demo_dsn: str) -> None:
    query = """query ($skip: Boolean!) {
      regions { districts { contactPoints(first: 5) { nodes { cases(first: 3) @skip(if: $skip) { nodes { number } } } } } }
    }"""
    with service(demo_dsn) as client:
        body = post(client, {"query": query, "variables": {"skip": True}})[1]
        # 4 regions, 16 districts each assumed, 5 contact points each: 4 + 64 + 320.
        assert body["extensions"]["cost"]["requestedQueryCost"] == 4 + 64 + 320
        body = post(client, {"query": query, "variables": {"skip": False}})[1]
        assert body["extensions"]["cost"]["requestedQueryCost"] == 4 + 64 + 320 + 960


def test_fragment_bombs_are_refused_before_they_expand(demo_dsn: str) -> None:
    fragments = ["fragment F0 on Region { code }"] + [
        f"fragment F{i} on Region {{ ...F{i - 1} ...F{i - 1} }}" for i in range(1, 30)
    ]
    query = "{ regions { ...F29 } } " + " ".join(fragments)
    with service(demo_dsn) as client:
        started = time.monotonic()
        body = post(client, {"query": query})[1]
        assert codes(body) == ["QUERY_TOO_COMPLEX"]
        assert time.monotonic() - started < 10


def test_a_budget_is_spent_and_refused_with_rate_limit_headers(demo_dsn: str) -> None:
    with service(demo_dsn, role=None, LIAISON_BUDGET_POINTS="50") as client:
        paid_parse(client.post)
        headers = bearer("internal", sub=f"budget-{uuid.uuid4()}")
        for used in (20, 40):
            response = client.post("/graphql", json={"query": COSTLY, "variables": {"n": 10}}, headers=headers)
            assert response.status_code == 200 and codes(response.json()) == []
            assert response.headers["x-ratelimit-used"] == str(used)
            assert response.headers["x-ratelimit-remaining"] == str(50 - used)
        response = client.post("/graphql", json={"query": COSTLY, "variables": {"n": 10}}, headers=headers)
        assert response.status_code == 429 and codes(response.json()) == ["RATE_LIMITED"]
        assert response.headers["x-ratelimit-remaining"] == "10"
        reset = int(response.headers["x-ratelimit-reset"])
        assert 0 < int(response.headers["retry-after"]) <= reset - time.time() + 1
        assert "data" not in response.json()
        # Exactly what remains is still allowed; then nothing is.
        response = client.post("/graphql", json={"query": COSTLY, "variables": {"n": 5}}, headers=headers)
        assert response.status_code == 200 and response.headers["x-ratelimit-remaining"] == "0"
        response = client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        assert response.status_code == 429
        # Budgets are per credential: another caller is untouched.
        assert client.post("/graphql", json={"query": "{ __typename }"}, headers=bearer("internal")).status_code == 200


def paid_parse(post: Any) -> None:
    """Have another caller pay for parsing COSTLY (each process charges a new document's parse
    to its first admitted operation), so that the budget's figures below are the operations'."""
    headers = bearer("internal", sub=f"parse-{uuid.uuid4()}")
    response = post("/graphql", json={"query": COSTLY, "variables": {"n": 1}}, headers=headers)
    assert response.status_code == 200


def redis_url() -> str:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        if probe.connect_ex(("127.0.0.1", 6379)) != 0:
            if os.environ.get("CI"):
                pytest.fail("CI has Redis at 127.0.0.1:6379; it did not answer")
            pytest.skip("no Redis at 127.0.0.1:6379 (a budget shared across processes needs one)")
    return "redis://127.0.0.1:6379/0"


def test_a_budget_spent_in_one_process_is_seen_by_another(demo_dsn: str, tmp_path: Any) -> None:
    from .support import live_service

    url = redis_url()
    headers = bearer("internal", sub=f"shared-{uuid.uuid4()}")
    env = {"REDIS_URL": url, "LIAISON_BUDGET_POINTS": "50"}
    with service(demo_dsn, role=None, **env) as client:
        paid_parse(client.post)
        response = client.post("/graphql", json={"query": COSTLY, "variables": {"n": 20}}, headers=headers)
        assert response.headers["x-ratelimit-remaining"] == "10"
    with live_service(demo_dsn, tmp_path, **env) as base:
        import httpx2

        paid_parse(lambda path, **kw: httpx2.post(base + path, **kw))
        response = httpx2.post(base + "/graphql", json={"query": COSTLY, "variables": {"n": 10}}, headers=headers)
        assert response.status_code == 429 and response.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        response = httpx2.post(base + "/graphql", json={"query": COSTLY, "variables": {"n": 5}}, headers=headers)
        assert response.status_code == 200 and response.headers["x-ratelimit-remaining"] == "0"


def test_body_size(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_MAX_BODY_BYTES="1000") as client:
        base = b'{"query": "{ __typename }", "variables": {"pad": ""}}'

        def body(size: int) -> bytes:
            return base.replace(b'""', b'"' + b" " * (size - len(base)) + b'"')

        for size in (999, 1000):
            response = client.post("/graphql", content=body(size), headers={"Content-Type": "application/json"})
            assert response.status_code == 200, size
        response = client.post("/graphql", content=body(1001), headers={"Content-Type": "application/json"})
        assert response.status_code == 413 and codes(response.json()) == ["PAYLOAD_TOO_LARGE"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield body(1001)[:600]
            yield body(1001)[600:]

        response = client.post("/graphql", content=chunks(), headers={"Content-Type": "application/json"})
        assert response.status_code == 413 and codes(response.json()) == ["PAYLOAD_TOO_LARGE"]


def test_operations_per_batch(demo_dsn: str) -> None:
    operation = {"query": "{ regions { code } }"}
    with service(demo_dsn, LIAISON_MAX_OPERATIONS="3") as client:
        for count in (2, 3):
            status, body = post(client, [operation] * count)
            assert status == 200 and [len(r["data"]["regions"]) for r in body] == [4] * count
        status, body = post(client, [operation] * 4)
        assert status == 400 and codes(body) == ["TOO_MANY_OPERATIONS"]


def test_anonymous_introspection_can_be_turned_off(demo_dsn: str) -> None:
    query = "{ __schema { queryType { name } } }"
    with service(demo_dsn, role=None, LIAISON_ANONYMOUS_INTROSPECTION="0") as client:
        body = post(client, {"query": query})[1]
        assert codes(body) == ["INTROSPECTION_DISABLED"]
        assert post(client, {"query": '{ __type(name: "Case") { name } }'})[1]["errors"][0]["extensions"]["code"] == (
            "INTROSPECTION_DISABLED"
        )
        assert post(client, {"query": "{ __typename regions { __typename } }"})[1]["data"]["__typename"] == "Query"
        assert post(client, {"query": query}, bearer("internal"))[1]["data"]["__schema"]["queryType"]["name"] == "Query"
    with service(demo_dsn, role=None) as client:
        assert codes(post(client, {"query": query})[1]) == []


async def test_a_slow_request_is_cancelled_with_its_sql(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        with service(db_dsn, LIAISON_REQUEST_TIMEOUT="1", LIAISON_DB_TIMEOUT="30") as client:
            assert post(client, {"query": "{ regions { code } }"})[0] == 200  # well within the limit
            async with conn.transaction():
                await conn.execute("LOCK TABLE region IN ACCESS EXCLUSIVE MODE")
                started = time.monotonic()
                status, body = await asyncio.to_thread(post, client, {"query": "{ regions { code } }"})
                elapsed = time.monotonic() - started
                assert status == 503 and codes(body) == ["REQUEST_TIMEOUT"]
                assert 0.9 < elapsed < 5
                # PostgreSQL cancels the statement too (statement_timeout): no service query waits on the lock.
                deadline = time.monotonic() + 5
                while await conn.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'liaison-graph'"
                    " AND state = 'active' AND wait_event_type = 'Lock'"
                ):
                    assert time.monotonic() < deadline, "the request's SQL still waits"
                    await asyncio.sleep(0.1)
    finally:
        await conn.close()


async def test_the_request_bound_follows_the_body_bound_once_the_body_is_in(db_dsn: str) -> None:
    """One timer bounds the body, then the request (api.faults.answering_faults): once the
    body is in, the request has its own bound, not what was left of the body's."""
    conn = await asyncpg.connect(db_dsn)
    try:
        env = {"LIAISON_BODY_TIMEOUT": "1", "LIAISON_REQUEST_TIMEOUT": "20", "LIAISON_DB_TIMEOUT": "30"}
        with service(db_dsn, **env) as client:
            assert post(client, {"query": "{ regions { code } }"})[0] == 200
            async with conn.transaction():
                await conn.execute("LOCK TABLE region IN ACCESS EXCLUSIVE MODE")
                waiting = asyncio.create_task(asyncio.to_thread(post, client, {"query": "{ regions { code } }"}))
                await asyncio.sleep(2.5)  # past the body's bound, well within the request's
                assert not waiting.done()
            status, body = await waiting
            assert status == 200 and codes(body) == [] and len(body["data"]["regions"]) > 0
    finally:
        await conn.close()


def test_limits_refuse_nonsense_settings() -> None:
    from resolvers.limits import LimitSettings

    with pytest.raises(ValueError, match="LIAISON_MAX_DEPTH"):
        LimitSettings.from_env({"LIAISON_MAX_DEPTH": "0"})
    with pytest.raises(ValueError):
        LimitSettings.from_env({"LIAISON_MAX_COST": "lots"})
    assert LimitSettings.from_env({"LIAISON_REQUEST_TIMEOUT": "2.5"}).request_timeout == 2.5


def cost_of(client: TestClient, query: str, **variables: Any) -> int:
    body = post(client, {"query": query, "variables": variables})[1]
    assert "errors" not in body, body["errors"]
    return body["extensions"]["cost"]["requestedQueryCost"]


def test_counts_aggregates_and_introspection_weigh_what_they_cost_the_database(demo_dsn: str) -> None:
    with service(demo_dsn) as client:
        assert cost_of(client, "{ contactPoints(first: 3) { nodes { code } } }") == 3
        assert cost_of(client, "{ contactPoints(first: 3) { totalCount nodes { code } } }") == 3 + 10
        # 16 districts assumed, their counts in one statement: 16 objects + one count.
        districts = '{ region(code: "310000") { districts { contactPoints(first: 0) { totalCount } } } }'
        assert cost_of(client, districts) == 1 + 16 + 10
        aliased = (
            "{ a: cases(first: 0) { totalCount } b: cases(first: 0, filter: {kinds: [COMPLAINT]}) { totalCount } }"
        )
        assert cost_of(client, aliased) == 20  # two statements over all cases
        # networkStats (1) + its case statistics (1 object, weighing 100) + byStatus (10 assumed).
        assert cost_of(client, "{ networkStats { cases { total byStatus { count } } } }") == 1 + 1 + 100 + 10
        assert cost_of(client, "{ __schema { queryType { name } } }") == 500
        assert cost_of(client, "{ __typename }") == 0


def test_one_introspection_field_per_request(demo_dsn: str) -> None:
    with service(demo_dsn) as client:
        assert codes(post(client, {"query": graphql.get_introspection_query()})[1]) == []  # GraphiQL's
        twice = '{ a: __schema { queryType { name } } b: __type(name: "Case") { name } }'
        assert codes(post(client, {"query": twice})[1]) == ["QUERY_TOO_COMPLEX"]
        once = {"query": "{ __schema { queryType { name } } }"}
        body = post(client, [once, once])[1]
        assert [codes(item) for item in body] == [[], ["QUERY_TOO_COMPLEX"]]


def test_cost_counts_variable_defaults_and_every_spelling_of_an_int(demo_dsn: str) -> None:
    query = "query ($n: Int = 50) { contactPoints(first: $n) { nodes { code } } }"
    with service(demo_dsn, LIAISON_MAX_COST="60") as client:
        assert cost_of(client, query) == 50
        assert cost_of(client, query, n=30.0) == 30
        body = post(client, {"query": query.replace("= 50", "= 70")})[1]
        assert codes(body) == ["QUERY_TOO_COMPLEX"]


def test_executions_beyond_the_bulkhead_wait_their_turn(demo_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from strawberry.asgi import GraphQL

    running, peak = 0, 0
    execute = GraphQL.run

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0.05)
            return await execute(self, *args, **kwargs)
        finally:
            running -= 1

    monkeypatch.setattr(GraphQL, "run", counted)
    with (
        service(demo_dsn, LIAISON_MAX_CONCURRENT_EXECUTIONS="2", LIAISON_EXECUTION="dataloader") as client,
        ThreadPoolExecutor(6) as pool,
    ):
        statuses = list(
            pool.map(lambda _: client.post("/graphql", json={"query": "{ regions { code } }"}).status_code, range(6))
        )
    assert statuses == [200] * 6
    assert peak == 2
