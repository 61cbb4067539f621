"""The regions query over HTTP, as a frontend sends it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import Settings

from .support import app_state

REGIONS = "{ regions { code name nameEn isPartner districts { code name kind } } }"


@pytest.fixture
def client(db_dsn: str) -> Iterator[TestClient]:
    settings = Settings.from_env({"DATABASE_URL": db_dsn, "LIAISON_DB_TIMEOUT": "2"})
    with TestClient(create_app(settings)) as client:
        yield client


def test_regions_with_their_districts(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": REGIONS})
    assert response.status_code == 200
    regions = response.json()["data"]["regions"]
    assert [r["code"] for r in regions] == ["310000", "320000", "330000", "340000"]
    shanghai = regions[0]
    assert shanghai["name"] == "上海市" and shanghai["isPartner"] is False
    assert len(shanghai["districts"]) == 16
    assert {"code": "310115", "name": "浦东新区", "kind": "DISTRICT"} in shanghai["districts"]
    assert all(r["isPartner"] for r in regions[1:])
    assert all(d["kind"] == "CITY" and d["code"][:2] == r["code"][:2] for r in regions[1:] for d in r["districts"])


def test_response_is_utf8_not_escaped(client: TestClient) -> None:
    response = client.post("/graphql", json={"query": "{ regions { name } }"})
    assert "上海市".encode() in response.content


def test_graphiql_in_a_browser(client: TestClient) -> None:
    response = client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


def test_health_endpoints(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200


def test_a_query_error_has_a_code_and_no_internals(client: TestClient) -> None:
    body = client.post("/graphql", json={"query": "{ regions { nope } }"}).json()
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "Traceback" not in str(body)


@pytest.mark.parametrize(("execution", "expected"), [("dataloader", 2), ("compiled", 1)])
def test_districts_of_all_regions_load_in_one_batch(db_dsn: str, execution: str, expected: int) -> None:
    """Generic path: one statement for regions, one for all their districts; compiled: one in all."""
    settings = Settings.from_env({"DATABASE_URL": db_dsn, "LIAISON_EXECUTION": execution})
    with TestClient(create_app(settings)) as client:
        db = app_state(client).db
        before = db.statements
        body = client.post("/graphql", json={"query": REGIONS}).json()
        assert db.statements - before == expected
    assert len(body["data"]["regions"]) == 4
