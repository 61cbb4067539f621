"""Federation's ``_entities`` on the compiled path: one statement per set of entity types
asked, the representations bound per request, and every answer the DataLoader path's.

Verify mode (tests/support.py) compares each compiled answer with the DataLoader path's
byte for byte; a request the DataLoader path answers with errors (a malformed
representation, a key PostgreSQL refuses) is served there, and said so.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from starlette.testclient import TestClient

from schema.compiled import HEADER

from .support import app_state, bearer, service

ENTITIES = """query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) {
    __typename
    ... on ContactPoint { code name district { code name } }
    ... on District { code name }
    ... on Case { number status openedAt consumerName }
    ... on Street { name }
    ... on Enterprise { creditCode name }
  }
}"""


def global_id(typename: str, key: str) -> str:
    return base64.b64encode(f"{typename}:{key}".encode()).decode()


@pytest.fixture(scope="module")
async def keys(demo_dsn: str) -> dict[str, list[Any]]:
    conn = await asyncpg.connect(demo_dsn)
    try:
        return {
            "ContactPoint": [r[0] for r in await conn.fetch("SELECT code FROM contact_point ORDER BY id LIMIT 60")],
            "District": [r[0] for r in await conn.fetch("SELECT code FROM district ORDER BY code LIMIT 20")],
            "Case": [
                r[0]
                for r in await conn.fetch(
                    'SELECT number FROM "case" WHERE consumer_name IS NOT NULL ORDER BY number LIMIT 60'
                )
            ],
            "Street": [str(r[0]) for r in await conn.fetch("SELECT id FROM street ORDER BY id LIMIT 20")],
        }
    finally:
        await conn.close()


def hundred(keys: dict[str, list[Any]], offset: int) -> list[dict[str, Any]]:
    """100 representations of four types, interleaved, from the ``offset``-th key of each."""
    found = []
    for i in range(25):
        found.append({"__typename": "ContactPoint", "code": keys["ContactPoint"][offset + i]})
        found.append({"__typename": "Case", "number": keys["Case"][offset + i]})
        found.append({"__typename": "District", "code": keys["District"][(offset + i) % 20]})
        found.append({"__typename": "Street", "id": keys["Street"][(offset + i) % 20]})
    return found


def ask(client: TestClient, representations: list[Any], headers: dict[str, str] | None = None) -> tuple[str, Any]:
    response = client.post(
        "/graphql", json={"query": ENTITIES, "variables": {"representations": representations}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.headers[HEADER], response.json()


def statements(client: TestClient) -> int:
    return len(app_state(client).engine.caches.statements)


def test_a_hundred_representations_of_varying_keys_share_one_statement(
    demo_dsn: str, keys: dict[str, list[Any]]
) -> None:
    with service(demo_dsn) as client:
        before = statements(client)
        answers = [ask(client, hundred(keys, offset)) for offset in (0, 20, 35)]
        reordered = ask(client, hundred(keys, 5)[::-1])  # the same types in another order
        held = statements(client)
        other_types = ask(client, hundred(keys, 0)[::4])  # contact points alone: another statement
        after = statements(client)
    assert [served for served, _ in (*answers, reordered, other_types)] == ["verified"] * 5
    for (_, body), offset in zip(answers, (0, 20, 35), strict=True):
        assert "errors" not in body
        found = body["data"]["_entities"]
        assert [e["code"] for e in found[::4]] == keys["ContactPoint"][offset : offset + 25]
        assert [e["number"] for e in found[1::4]] == keys["Case"][offset : offset + 25]
    assert held == before + 1
    assert after == held + 1


def test_entities_are_served_compiled_in_one_statement(demo_dsn: str, keys: dict[str, list[Any]]) -> None:
    with service(demo_dsn, LIAISON_EXECUTION="compiled") as client:
        db = app_state(client).db
        ask(client, hundred(keys, 0))  # plans the shape
        before, served_before = db.statements, app_state(client).engine.served["compiled"]
        served, body = ask(client, hundred(keys, 10))
        cost = db.statements - before
        counted = app_state(client).engine.served["compiled"] - served_before
    assert (served, cost, counted) == ("compiled", 1, 1)
    assert len(body["data"]["_entities"]) == 100 and None not in body["data"]["_entities"]


CASES: list[Callable[[dict[str, list[Any]]], list[Any]]] = [
    # mixed typenames, by natural key and by global id, an empty list
    lambda k: [
        {"__typename": "District", "code": k["District"][0]},
        {"__typename": "Case", "id": global_id("Case", k["Case"][0])},
        {"__typename": "Street", "id": k["Street"][0]},  # a street's key is its id: raw,
        {"__typename": "Street", "id": global_id("Street", k["Street"][1])},  # or the global id the API gives
        {"__typename": "ContactPoint", "code": k["ContactPoint"][0], "name": "ignored"},
    ],
    lambda k: [],
    # unknown keys, a global id of another type, a key no integer column holds
    lambda k: [
        {"__typename": "District", "code": "999999"},
        {"__typename": "Case", "number": "nope"},
        {"__typename": "District", "id": global_id("Region", "310000")},
        {"__typename": "Street", "id": "99999999"},
        {"__typename": "District", "code": k["District"][1]},
    ],
    # malformed: served on the DataLoader path, which words the errors
    lambda k: [{"__typename": "District", "code": k["District"][0]}, {"__typename": "Nope", "code": "x"}],
    lambda k: [{"__typename": "District", "code": 310115}, {"__typename": "Street", "id": "12a"}],
    lambda k: [{"__typename": "District", "id": "not base64!"}, "District:310115", {"code": "310115"}],
    lambda k: [{"__typename": "District"}, {"__typename": "Street", "id": global_id("Case", k["Street"][0]) + "!"}],
    lambda k: [{"__typename": "District", "code": "a\u0000"}, {"__typename": "District", "code": k["District"][0]}],
]
MALFORMED = range(3, len(CASES))
VIEWERS: list[dict[str, str] | None] = [
    None,  # anonymous: no cases
    bearer("partner", regions=["330000"]),  # not Shanghai's cases
    bearer("case_officer", regions=["310000"]),  # consumers' names unmasked
    bearer("internal"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_each_kind_of_representation_is_answered_as_on_the_dataloader_path(
    demo_dsn: str, keys: dict[str, list[Any]], case: int
) -> None:
    representations = CASES[case](keys)
    expected = []
    with service(demo_dsn, role=None, LIAISON_EXECUTION="dataloader") as generic:
        expected = [ask(generic, representations, viewer)[1] for viewer in VIEWERS]
    for mode in ("compiled", "verify"):
        with service(demo_dsn, role=None, LIAISON_EXECUTION=mode) as client:
            for viewer, wanted in zip(VIEWERS, expected, strict=True):
                served, body = ask(client, representations, viewer)
                assert body == wanted, (mode, viewer)
                if case in MALFORMED:
                    assert served == "dataloader" and body["errors"]
                elif viewer in VIEWERS[:2] and any(r["__typename"] == "Case" for r in representations):
                    assert served == "dataloader"  # Case.consumerName is refused to these roles
                else:
                    assert served == ("compiled" if mode == "compiled" else "verified"), (mode, viewer)
    if case == 0:  # the rows each viewer may see, masked as for it
        cases = [body["data"]["_entities"][1] for body in expected]
        assert cases[0] is None and cases[1] is None
        assert cases[2]["consumerName"] != cases[3]["consumerName"]


def test_a_type_refused_to_the_viewer_sends_only_requests_asking_it_to_the_dataloader_path(
    demo_dsn: str, keys: dict[str, list[Any]]
) -> None:
    district = {"__typename": "District", "code": keys["District"][0]}
    case = {"__typename": "Case", "number": keys["Case"][0]}
    with service(demo_dsn, role=None, LIAISON_EXECUTION="compiled") as client:
        served = [ask(client, asked)[0] for asked in ([district, case], [district], [case, district], [district])]
    assert served == ["dataloader", "compiled", "dataloader", "compiled"]


def test_a_malformed_representation_after_its_shape_is_known_is_worded_by_the_dataloader_path(
    demo_dsn: str, keys: dict[str, list[Any]]
) -> None:
    good = [{"__typename": "District", "code": keys["District"][0]}]
    bad = [*good, {"__typename": "District", "code": "a\u0000"}, {"__typename": "District", "id": "not base64!"}]
    with service(demo_dsn, LIAISON_EXECUTION="dataloader") as generic:
        _, expected = ask(generic, bad)
    with service(demo_dsn, LIAISON_EXECUTION="compiled") as client:
        served = [ask(client, good)[0] for _ in range(2)]  # planned, then from the fast lane
        refused, body = ask(client, bad)
        lane = app_state(client).engine.served["fast_lane"]
    assert served == ["compiled", "compiled"] and lane == 1
    assert (refused, body["data"], body["errors"]) == ("dataloader", expected["data"], expected["errors"])
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT", "BAD_USER_INPUT"]
