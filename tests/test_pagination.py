"""Walking connections with cursors visits every row exactly once, in order, both ways."""

from __future__ import annotations

from collections.abc import Iterator

import asyncpg
import pytest
from starlette.testclient import TestClient

from .support import data, service

POINTS = """query ($first: Int, $after: String, $last: Int, $before: String, $order: ContactPointOrder) {
  district(code: "310101") { contactPoints(first: $first, after: $after, last: $last, before: $before,
                                           orderBy: $order) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { code } } } }"""

CASES = """query ($first: Int, $after: String, $last: Int, $before: String, $order: CaseOrder) {
  cases(first: $first, after: $after, last: $last, before: $before, orderBy: $order,
        filter: {districtCodes: ["310101"], openedFrom: "2017-01-01T00:00:00Z", openedBefore: "2020-01-01T00:00:00Z"}) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } nodes { number } } }"""


@pytest.fixture(scope="module")
def client(demo_dsn: str) -> Iterator[TestClient]:
    with service(demo_dsn) as client:
        yield client


def walk(client: TestClient, query: str, path: list[str], key: str, order: dict, size: int, forwards: bool) -> list:
    """Every node of the connection at ``path``, page by page, in the connection's order."""
    seen: list = []
    cursor = None
    while True:
        args = {"first": size, "after": cursor} if forwards else {"last": size, "before": cursor}
        found = data(client, query, order=order, **args)
        for step in path:
            found = found[step]
        keys = [node[key] for node in found["nodes"]]
        info = found["pageInfo"]
        assert len(keys) <= size
        seen = seen + keys if forwards else keys + seen
        more = info["hasNextPage"] if forwards else info["hasPreviousPage"]
        if not more:
            assert len(seen) == found["totalCount"]
            return seen
        assert len(keys) == size
        cursor = info["endCursor"] if forwards else info["startCursor"]


async def expected(dsn: str, sql: str) -> list:
    conn = await asyncpg.connect(dsn)
    try:
        return [row[0] for row in await conn.fetch(sql)]
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("field", "direction", "sql_order"),
    [
        ("CODE", "ASC", "code ASC, id ASC"),
        ("NAME", "DESC", "name DESC, id DESC"),
        ("ESTABLISHED_ON", "ASC", "established_on ASC, id ASC"),  # many points share a day: ties
        ("ESTABLISHED_ON", "DESC", "established_on DESC, id DESC"),
    ],
)
@pytest.mark.parametrize("forwards", [True, False])
async def test_contact_points_walk(
    client: TestClient, demo_dsn: str, field: str, direction: str, sql_order: str, forwards: bool
) -> None:
    order = {"field": field, "direction": direction}
    walked = walk(client, POINTS, ["district", "contactPoints"], "code", order, 17, forwards)
    rows = await expected(
        demo_dsn, f"SELECT code FROM contact_point WHERE district_code = '310101' ORDER BY {sql_order}"
    )
    assert walked == rows
    assert len(set(walked)) == len(walked)


@pytest.mark.parametrize(
    ("field", "direction", "sql_order"),
    [("OPENED_AT", "DESC", "opened_at DESC, c.id DESC"), ("NUMBER", "ASC", "number ASC, c.id ASC")],
)
@pytest.mark.parametrize("forwards", [True, False])
async def test_cases_walk(
    client: TestClient, demo_dsn: str, field: str, direction: str, sql_order: str, forwards: bool
) -> None:
    walked = walk(client, CASES, ["cases"], "number", {"field": field, "direction": direction}, 50, forwards)
    rows = await expected(
        demo_dsn,
        'SELECT number FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id'
        " WHERE p.district_code = '310101' AND opened_at >= '2017-01-01Z' AND opened_at < '2020-01-01Z'"
        f" ORDER BY {sql_order}",
    )
    assert len(rows) > 100
    assert walked == rows


def test_ties_exist_where_the_test_relies_on_them(client: TestClient) -> None:
    days = data(client, '{ district(code: "310101") { contactPoints(first: 100) { nodes { establishedOn } } } }')
    values = [n["establishedOn"] for n in days["district"]["contactPoints"]["nodes"]]
    assert len(set(values)) < len(values), "no two points share a day: the tie-break goes untested"


def test_first_zero_and_an_empty_page(client: TestClient) -> None:
    found = data(
        client, "{ contactPoints(first: 0) { totalCount pageInfo { hasNextPage endCursor } edges { cursor } } }"
    )
    assert found["contactPoints"]["edges"] == [] and found["contactPoints"]["totalCount"] > 0
    assert found["contactPoints"]["pageInfo"] == {"hasNextPage": True, "endCursor": None}
