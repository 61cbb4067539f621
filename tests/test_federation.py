"""The subgraph a federation router sees: `_service`, batched `_entities`, access, tracing."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from starlette.testclient import TestClient

from .support import app_state, bearer, gql, service

SDL = Path(__file__).resolve().parent.parent / "schema.graphql"

ENTITIES = """query ($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on Region { code name }
    ... on District { code name }
    ... on ContactPoint { code name }
    ... on Enterprise { creditCode name }
    ... on Store { code name }
    ... on Case { number consumerName }
    ... on CrossStoreReturn { code }
  }
}"""

# Entity type, its key in representations, the SQL that lists keys.
KEYS = {
    "Region": ("code", "SELECT code FROM region ORDER BY code"),
    "District": ("code", "SELECT code FROM district ORDER BY code"),
    "ContactPoint": ("code", "SELECT code FROM contact_point ORDER BY code LIMIT 200"),
    "Enterprise": ("creditCode", "SELECT credit_code FROM enterprise ORDER BY credit_code LIMIT 150"),
    "Store": ("code", "SELECT code FROM store ORDER BY code LIMIT 150"),
    "Case": ("number", 'SELECT number FROM "case" ORDER BY number LIMIT 200'),
    "CrossStoreReturn": ("code", "SELECT code FROM cross_store_return ORDER BY code LIMIT 150"),
}


@pytest.fixture(scope="module")
async def representations(demo_dsn: str) -> list[dict[str, Any]]:
    """1,000 representations of the seven entity types, by natural key and by global id."""
    conn = await asyncpg.connect(demo_dsn)
    try:
        found = []
        for typename, (key, sql) in KEYS.items():
            found += [{"__typename": typename, key: row[0]} for row in await conn.fetch(sql)]
    finally:
        await conn.close()
    by_id = [
        {
            "__typename": r["__typename"],
            "id": base64.b64encode(f"{r['__typename']}:{r[KEYS[r['__typename']][0]]}".encode()).decode(),
        }
        for r in found[::7]
    ]
    mixed = found + by_id
    unknown = [{"__typename": "Store", "code": "ST999999-99999"}, {"__typename": "Case", "number": "nope"}]
    mixed = [*mixed[: 1000 - 2], *unknown]
    assert len(mixed) == 1000
    return mixed


def entities(client: TestClient, representations: list[Any], headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.post(
        "/graphql", json={"query": ENTITIES, "variables": {"representations": representations}}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    return response.json()


def key_of(entity: dict[str, Any]) -> str:
    return entity.get("code") or entity.get("number") or entity.get("creditCode")  # type: ignore[return-value]


def expected_key(representation: dict[str, Any]) -> str:
    if "id" in representation:
        return base64.b64decode(representation["id"]).decode().split(":", 1)[1]
    return representation[KEYS[representation["__typename"]][0]]


@pytest.mark.parametrize(("mode", "most"), [("dataloader", len(KEYS)), ("compiled", 1)])
def test_a_thousand_mixed_representations_cost_one_statement_per_type(
    demo_dsn: str, representations: list[dict[str, Any]], mode: str, most: int
) -> None:
    """The DataLoader path batches per type; the compiled path answers in one statement."""
    with service(demo_dsn, LIAISON_EXECUTION=mode) as client:
        db = app_state(client).db
        before = db.statements
        body = entities(client, representations)
        statements = db.statements - before
    assert "errors" not in body, body["errors"][:3]
    results = body["data"]["_entities"]
    assert len(results) == 1000
    assert statements <= most, statements
    for representation, entity in zip(representations[:-2], results[:-2], strict=True):
        assert entity is not None, representation
        assert entity["__typename"] == representation["__typename"]
        assert key_of(entity) == expected_key(representation)
    assert results[-2:] == [None, None]  # unknown keys: null, the others unharmed


def test_malformed_representations_fail_alone(demo_dsn: str) -> None:
    good = {"__typename": "Region", "code": "330000"}
    bad = [
        {"__typename": "Nope", "code": "x"},
        {"code": "330000"},
        "Region:330000",
        {"__typename": "Region"},
        {"__typename": "Region", "code": 330000},
        {"__typename": "Region", "id": "not base64!"},
    ]
    with service(demo_dsn) as client:
        body = entities(client, [good, *bad, good])
    results = body["data"]["_entities"]
    assert results[0] == results[-1] == {"__typename": "Region", "code": "330000", "name": "浙江省"}
    assert results[1:-1] == [None] * len(bad)
    errors = sorted((e["path"][1], e["extensions"]["code"]) for e in body["errors"])
    assert errors == [(i, "BAD_USER_INPUT") for i in range(1, len(bad) + 1)]
    assert all("Traceback" not in e["message"] for e in body["errors"])


async def test_entities_obey_the_viewers_rows_and_masks(demo_dsn: str) -> None:
    conn = await asyncpg.connect(demo_dsn)
    try:
        number, name = (
            await conn.fetch(
                'SELECT number, consumer_name FROM "case" WHERE consumer_name IS NOT NULL ORDER BY number LIMIT 1'
            )
        )[0]
    finally:
        await conn.close()
    case = [{"__typename": "Case", "number": number}]
    with service(demo_dsn, role=None) as client:
        assert entities(client, case)["data"]["_entities"] == [None]  # anonymous: no cases
        partner = entities(client, case, bearer("partner", regions=["330000"]))
        assert partner["data"]["_entities"] == [None]  # not a case of Zhejiang's
        internal = entities(client, case, bearer("internal"))["data"]["_entities"][0]
        assert internal["consumerName"] == name[0] + "*"
        officer = entities(client, case, bearer("case_officer", regions=["310000"]))["data"]["_entities"][0]
        assert officer["consumerName"] == name


def test_the_router_secret_guards_federation_fields_only(demo_dsn: str) -> None:
    region = [{"__typename": "Region", "code": "310000"}]
    with service(demo_dsn, LIAISON_ROUTER_SECRET="s3cret-shared-with-the-router") as client:
        body = entities(client, region)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"] and "data" not in body
        response = client.post("/graphql", json={"query": "{ _service { sdl } }"}, headers={"X-Router-Secret": "wrong"})
        assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        body = entities(client, region, {"X-Router-Secret": "s3cret-shared-with-the-router"})
        assert body["data"]["_entities"][0]["name"] == "上海市"
        assert client.post("/graphql", json={"query": "{ regions { code } }"}).json()["data"]["regions"]


def test_service_sdl_is_the_committed_file(demo_dsn: str) -> None:
    with service(demo_dsn) as client:
        sdl = client.post("/graphql", json={"query": "{ _service { sdl } }"}).json()["data"]["_service"]["sdl"]
    assert sdl + "\n" == SDL.read_text()
    assert '@link(url: "https://specs.apollo.dev/federation/v2.9"' in sdl


def test_traces_answer_only_the_router_when_a_secret_is_set(demo_dsn: str) -> None:
    query = {"query": "{ regions { code } }"}
    asked = {"apollo-federation-include-trace": "ftv1"}
    with service(demo_dsn, LIAISON_ROUTER_SECRET="s3cret-shared-with-the-router") as client:
        assert "ftv1" not in client.post("/graphql", json=query, headers=asked).json().get("extensions", {})
        routed = client.post(
            "/graphql", json=query, headers={**asked, "X-Router-Secret": "s3cret-shared-with-the-router"}
        )
        assert "ftv1" in routed.json()["extensions"]


def test_federated_tracing_only_when_asked(demo_dsn: str) -> None:
    query = {"query": "{ regions { code districts { code } } }"}
    with service(demo_dsn) as client:
        plain = client.post("/graphql", json=query).json()
        traced = client.post("/graphql", json=query, headers={"apollo-federation-include-trace": "ftv1"}).json()
    assert "ftv1" not in plain.get("extensions", {})
    trace = base64.b64decode(traced["extensions"]["ftv1"])
    assert len(trace) > 50 and b"districts" in trace  # the protobuf trace names the fields it timed
    assert traced["data"] == plain["data"]


def test_a_key_the_database_refuses_fails_alone(demo_dsn: str) -> None:
    """A NUL in one key must not fail the statement its siblings share."""
    representations = [{"__typename": "District", "code": "310115"}, {"__typename": "District", "code": "a\u0000"}]
    with service(demo_dsn) as client:
        body = entities(client, representations)
    assert body["data"]["_entities"] == [{"__typename": "District", "code": "310115", "name": "浦东新区"}, None]
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["_entities", 1], "BAD_USER_INPUT")]


def test_an_aliased_lookup_with_a_refused_key_fails_alone(demo_dsn: str) -> None:
    query = """query ($bad: String!) { good: district(code: "310115") { code }
      bad: district(code: $bad) { code }
      point: contactPoint(code: "CP310115-00001") { code } nope: contactPoint(code: $bad) { code } }"""
    with service(demo_dsn) as client:
        body = gql(client, query, bad="a\u0000")
    assert body["data"] == {"good": {"code": "310115"}, "bad": None, "point": {"code": "CP310115-00001"}, "nope": None}
    assert sorted((e["path"][0], e["extensions"]["code"]) for e in body["errors"]) == [
        ("bad", "BAD_USER_INPUT"),
        ("nope", "BAD_USER_INPUT"),
    ]


def test_a_representation_with_extra_fields_is_answered_by_its_key(demo_dsn: str) -> None:
    """A router may send more than the key (fields of other subgraphs). Named `cls`, one
    clashed with Strawberry's resolve_reference class argument: an internal error."""
    extra = [
        {"__typename": "District", "code": "310115", "cls": "x"},
        {"__typename": "Region", "code": "330000", "info": "x", "nameEn": "Zhejiang"},
    ]
    with service(demo_dsn) as client:  # in verify mode: both paths, compared
        body = entities(client, extra)
        served = client.post("/graphql", json={"query": ENTITIES, "variables": {"representations": extra}})
    assert "errors" not in body, body["errors"]
    assert [e["code"] for e in body["data"]["_entities"]] == ["310115", "330000"]
    assert served.headers["x-liaison-execution"] == "verified"


def test_a_street_is_found_by_its_global_id(demo_dsn: str) -> None:
    """Street's federation key is `id`, the global id the API gives out (its rows have no
    code): a router sends that back, which was refused as a malformed integer key."""
    query = 'query { district(code: "310115") { streets { id name } } }'
    street_query = "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Street { id name } } }"
    with service(demo_dsn) as client:
        street = client.post("/graphql", json={"query": query}).json()["data"]["district"]["streets"][0]
        body = client.post(
            "/graphql", json={"query": street_query, "variables": {"r": [{"__typename": "Street", "id": street["id"]}]}}
        ).json()
    assert "errors" not in body, body["errors"]
    assert body["data"]["_entities"] == [street]
