"""/metrics: Prometheus text that its own parser reads, behind a secret, per app."""

from __future__ import annotations

import asyncpg
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from db.pool import pool_size_for

from .support import service
from .test_saved_queries import POINTS, store

SECRET = "a metrics secret for the tests"
SCRAPE = {"Authorization": f"Bearer {SECRET}"}
FIVE_STARS = "query Five { contactPoints(first: 3, filter: {currentStars: [FIVE]}) { nodes { code } } }"


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample, by name and labels, as prometheus_client's parser reads the text."""
    response = client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests(samples: dict, endpoint: str, operation: str, execution: str) -> float:
    labels = (("endpoint", endpoint), ("execution", execution), ("operation", operation))
    return samples.get(("liaison_graphql_request_duration_seconds_count", labels), 0)


async def test_metrics_parse_and_count_each_path(db_dsn: str, conn: asyncpg.Connection) -> None:
    saved = await store(conn, POINTS)
    env = {"LIAISON_METRICS_SECRET": SECRET, "LIAISON_EXECUTION": "compiled", "LIAISON_BUDGET_POINTS": "400"}
    with service(db_dsn, **env) as client:
        for _ in range(2):  # compiled through the pipeline, then the fast lane
            body = {"query": FIVE_STARS, "operationName": "Five"}
            assert client.post("/graphql", json=body).status_code == 200
        client.post("/graphql", json={"query": "query Figures { _service { sdl } }"})
        client.post("/graphql", json={"query": "{ nosuchfield }"})
        client.get(f"/queries/{saved.name}", params={"district": "310115"})
        expensive = "{ contactPoints(first: 100) { nodes { code cases(first: 100) { nodes { number } } } } }"
        refused = client.post("/graphql", json={"query": expensive})
        assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
        samples = scrape(client)
    assert requests(samples, "graphql", "other", "compiled") == 1
    assert requests(samples, "graphql", "other", "fast_lane") == 1
    assert requests(samples, "graphql", "other", "dataloader") == 1  # Figures: not a saved query's name
    assert requests(samples, "graphql", "other", "none") == 2  # a validation error; the refusal
    assert requests(samples, "queries", saved.name, "compiled") == 1
    assert samples[("liaison_graphql_errors_total", (("code", "GRAPHQL_VALIDATION_FAILED"),))] == 1
    assert samples[("liaison_graphql_errors_total", (("code", "RATE_LIMITED"),))] == 1
    assert samples[("liaison_budget_refusals_total", ())] == 1
    assert samples[("liaison_statements_total", ())] > 0
    assert samples[("liaison_pool_size", ())] == pool_size_for(db_dsn, 1)
    assert samples[("liaison_pool_in_use", ())] == 0
    assert samples[("liaison_pool_waiting", ())] == 0
    assert samples[("liaison_subscriptions_open", ())] == 0
    assert samples[("liaison_cache_hits_total", (("cache", "parsed"),))] >= 1
    assert ("process_resident_memory_bytes", ()) in samples
    buckets = [k for k in samples if k[0] == "liaison_graphql_request_duration_seconds_bucket"]
    assert buckets, "latency is a histogram"


def test_each_app_counts_apart(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_METRICS_SECRET=SECRET) as first:
        first.post("/graphql", json={"query": FIVE_STARS})
        with service(demo_dsn, LIAISON_METRICS_SECRET=SECRET) as second:
            assert not any(k[0] == "liaison_graphql_request_duration_seconds_count" for k in scrape(second))
        assert sum(v for k, v in scrape(first).items() if k[0] == "liaison_graphql_request_duration_seconds_count")


def test_client_chosen_names_are_one_label(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_METRICS_SECRET=SECRET, LIAISON_EXECUTION="dataloader") as client:
        for n in range(5):
            client.post("/graphql", json={"query": f"query Name{n} {{ regions {{ code }} }}"})
        client.post("/graphql", json={"query": "{ regions { code } }"})
        samples = scrape(client)
    operations = {
        dict(labels)["operation"]
        for name, labels in samples
        if name == "liaison_graphql_request_duration_seconds_count"
    }
    assert operations == {"other", "anonymous"}


def test_metrics_need_the_secret_and_are_off_without_it(demo_dsn: str) -> None:
    with service(demo_dsn, role=None, LIAISON_METRICS_SECRET=SECRET) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not the secret at all"})
        assert wrong.status_code == 401
        assert wrong.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    with service(demo_dsn, role=None) as client:
        off = client.get("/metrics", headers=SCRAPE)
    assert off.status_code == 404
    assert off.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_named_operation_sent_without_its_name_takes_the_fast_lane(db_dsn: str) -> None:
    """A document of one operation needs no ``operationName``: the second request of it is
    the fast lane's whether the client names the operation or not."""
    env = {"LIAISON_METRICS_SECRET": SECRET, "LIAISON_EXECUTION": "compiled"}
    unnamed = FIVE_STARS.replace("query Five", "query FiveUnnamed")  # a document no other test compiled
    with service(db_dsn, **env) as client:
        for _ in range(2):
            assert client.post("/graphql", json={"query": unnamed}).status_code == 200
        samples = scrape(client)
    assert requests(samples, "graphql", "other", "compiled") == 1
    assert requests(samples, "graphql", "other", "fast_lane") == 1
