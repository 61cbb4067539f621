"""One compiled statement per variable shape: values are parameters bound per request.

A detail page varies its contact point's code, its page size and its cursor; each new
value must cost no planning or rendering (``DocumentCaches.statements`` holds one rendered
statement per shape), must reuse the same SQL text, and must still be validated as the
resolvers validate it. Verify mode (tests/support.py) compares every compiled answer here
with the DataLoader path's, byte for byte.
"""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from schema.compiled import HEADER

from .support import app_state, service

DETAIL = """query Detail($code: String!, $cases: Int!, $after: String, $withHonours: Boolean! = true) {
  contactPoint(code: $code) {
    code name district { code name }
    honours @include(if: $withHonours) { honour awardedOn }
    cases(first: $cases, after: $after) {
      totalCount pageInfo { hasNextPage endCursor } nodes { number kind status openedAt amountClaimed } } } }"""

CODES = ("CP310115-00001", "CP310101-00002", "CP310104-00003")


def statements(client: TestClient) -> int:
    return len(app_state(client).engine.caches.statements)


def ask(client: TestClient, **variables: Any) -> tuple[str, dict[str, Any]]:
    response = client.post("/graphql", json={"query": DETAIL, "variables": variables})
    assert response.status_code == 200 and HEADER in response.headers, response.text
    return response.headers[HEADER], response.json()


def test_requests_differing_only_in_values_share_one_statement(demo_dsn: str) -> None:
    with service(demo_dsn) as client:
        before = statements(client)
        asked = [(CODES[0], 3), (CODES[1], 7), (CODES[0], 1)]
        answers = [ask(client, code=code, cases=cases) for code, cases in asked]
        held = statements(client)
    assert [served for served, _ in answers] == ["verified"] * 3
    assert [body["data"]["contactPoint"]["code"] for _, body in answers] == [code for code, _ in asked]
    assert [len(body["data"]["contactPoint"]["cases"]["nodes"]) for _, body in answers] == [3, 1, 1]
    assert held == before + 1


def test_a_cursor_of_a_known_shape_shares_its_statement(demo_dsn: str) -> None:
    with service(demo_dsn) as client:
        served, first = ask(client, code=CODES[0], cases=2, after=None)
        assert served == "verified"
        cursor = first["data"]["contactPoint"]["cases"]["pageInfo"]["endCursor"]
        before = statements(client)
        pages = [ask(client, code=CODES[0], cases=size, after=cursor) for size in (2, 5)]
        again = ask(client, code=CODES[1], cases=4, after=cursor)  # a cursor of another point's page: no rows
        held = statements(client)
    assert [served for served, _ in (*pages, again)] == ["verified"] * 3
    # Without a cursor and with one: two shapes; then two more values of the second, free.
    assert held == before + 1
    second = pages[0][1]["data"]["contactPoint"]["cases"]["nodes"]
    assert second and second[0] != first["data"]["contactPoint"]["cases"]["nodes"][0]


def test_a_request_of_another_shape_gets_its_own_statement(demo_dsn: str) -> None:
    with service(demo_dsn) as client:
        before = statements(client)
        shapes = [
            ask(client, code=CODES[0], cases=3),
            ask(client, code=CODES[0], cases=3, withHonours=False),  # @include(if: false)
            ask(client, code=CODES[1], cases=4, withHonours=False),  # the second shape again
        ]
        held = statements(client)
    assert [served for served, _ in shapes] == ["verified"] * 3
    assert "honours" in shapes[0][1]["data"]["contactPoint"]
    assert "honours" not in shapes[1][1]["data"]["contactPoint"]
    assert held == before + 2


def test_a_refused_value_of_a_known_shape_is_refused_as_on_the_generic_path(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_EXECUTION="dataloader") as generic:
        _, expected = ask(generic, code=CODES[0], cases=5000)
    assert expected["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    for mode in ("verify", "compiled"):
        with service(demo_dsn, LIAISON_EXECUTION=mode) as client:
            for size in (3, 4):  # the shape is known, in compiled mode to the fast lane too
                served, _ = ask(client, code=CODES[0], cases=size)
                assert served in ("verified", "compiled")
            served, refused = ask(client, code=CODES[0], cases=5000)
            count = app_state(client).engine.served
        assert served == "dataloader", mode
        assert (refused["data"], refused["errors"]) == (expected["data"], expected["errors"]), mode
        if mode == "compiled":
            assert count["fast_lane"] == 1


EDUCATION = (
    """query Education($period: Period) { networkStats { education(period: $period) { activities attendance } } }"""
)


def test_a_period_of_figures_over_dated_rows_is_part_of_the_statement(demo_dsn: str) -> None:
    periods = [
        {"from": "2024-01-01", "before": "2025-01-01"},
        {"from": "2023-01-01", "before": "2024-01-01"},
        {"from": "2024-01-01", "before": "2025-01-01"},
        {"from": "2024-01-01"},
    ]
    with service(demo_dsn) as client:
        before = statements(client)
        answers = []
        for period in periods:
            response = client.post("/graphql", json={"query": EDUCATION, "variables": {"period": period}})
            answers.append((response.headers[HEADER], response.json()))
        refused = client.post(
            "/graphql",
            json={"query": EDUCATION, "variables": {"period": {"from": "2025-01-01", "before": "2024-01-01"}}},
        )
        held = statements(client)
    assert [served for served, _ in answers] == ["verified"] * 4
    assert answers[0][1]["data"] == answers[2][1]["data"]
    assert held == before + 3  # the bounds pick the rows: each period its own statement, the same again none
    assert (
        refused.headers[HEADER] == "dataloader"
        and refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    )
