"""The contact_point role: its own points' cases in full, beyond them what anonymous reads.

Expected rows come from SQL written here; the service runs in verify mode, so the compiled
and DataLoader paths are compared on every answer.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from db.access import Role
from db.credentials import KeyRefused, create_key
from schema.compiled import HEADER

from .support import bearer, gql, service

POINTS = ["CP310115-00376", "CP310115-00993"]
OTHER = "CP310115-00580"

CASES = """query ($first: Int!) { cases(first: $first) {
  totalCount nodes { number consumerName consumerPhone contactPoint { code } } } }"""


async def own_cases(dsn: str, codes: list[str]) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetch(
            'SELECT c.number, c.consumer_name, c.consumer_phone FROM "case" c'
            " JOIN contact_point p ON p.id = c.contact_point_id WHERE p.code = ANY($1) ORDER BY c.number",
            codes,
        )
    finally:
        await conn.close()


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


async def test_staff_read_their_points_cases_in_full_and_no_others(demo_dsn: str) -> None:
    expected = await own_cases(demo_dsn, POINTS)
    assert 100 < len(expected) < 200
    with service(demo_dsn, role=None) as client:
        client.headers.update(bearer("contact_point", contactPoints=POINTS))
        body = gql(client, CASES, first=100)
        assert "errors" not in body, body
        cases = body["data"]["cases"]
        assert cases["totalCount"] == len(expected)
        seen = {n["number"]: n for n in cases["nodes"]}
        for row in expected:
            if row["number"] in seen:
                node = seen[row["number"]]
                assert (node["consumerName"], node["consumerPhone"]) == (row["consumer_name"], row["consumer_phone"])
        assert {n["contactPoint"]["code"] for n in cases["nodes"]} <= set(POINTS)
        other = (await own_cases(demo_dsn, [OTHER]))[0]["number"]
        lookup = gql(client, "query ($n: String!) { case(number: $n) { number } }", n=other)
        assert lookup["data"] == {"case": None}
        point = gql(
            client, "query ($c: String!) { contactPoint(code: $c) { cases(first: 5) { totalCount } } }", c=OTHER
        )
        assert point["data"]["contactPoint"]["cases"]["totalCount"] == 0


async def test_beyond_their_points_staff_read_what_anonymous_reads(demo_dsn: str) -> None:
    with service(demo_dsn, role=None) as client:
        staff = bearer("contact_point", contactPoints=POINTS)
        returns = client.post(
            "/graphql", json={"query": "{ crossStoreReturns(first: 1) { totalCount } }"}, headers=staff
        )
        assert codes(returns.json()) == ["FORBIDDEN"]
        stats = '{ district(code: "310101") { stats { cases(period: {from: "2020-01-01", before: "2020-01-08"}) { total } } } }'
        for headers in (staff, {}):
            assert codes(client.post("/graphql", json={"query": stats}, headers=headers).json()) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    "claims",
    [{}, {"contactPoints": ["310115"]}, {"contactPoints": POINTS, "districts": ["310115"]}],
    ids=["no points", "a district code as a point", "points and districts"],
)
def test_a_token_must_name_points_and_only_points(demo_dsn: str, claims: dict[str, Any]) -> None:
    with service(demo_dsn, role=None) as client:
        response = client.post(
            "/graphql", json={"query": "{ regions { code } }"}, headers=bearer("contact_point", **claims)
        )
        assert response.status_code == 401
        assert codes(response.json()) == ["UNAUTHENTICATED"]


async def test_keys_for_staff_name_known_points(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        secret, key = await create_key(conn, Role.CONTACT_POINT, "Pudong desk", contact_point_codes=POINTS[:1])
        assert key.viewer.contact_point_codes == (POINTS[0],)
        refused: tuple[dict[str, Any], ...] = (
            {},
            {"contact_point_codes": ["CP310115-99999"]},
            {"district_codes": ["310115"]},
        )
        for kwargs in refused:
            with pytest.raises(KeyRefused):
                await create_key(conn, Role.CONTACT_POINT, "bad", **kwargs)
        with pytest.raises(KeyRefused):
            await create_key(conn, Role.INTERNAL, "bad", contact_point_codes=POINTS)
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO api_key (public_id, secret_sha256, role, label) VALUES ('abcdefabcdef', $1, 'contact_point', 'x')",
                b"0" * 32,
            )
    finally:
        await conn.close()
    expected = await own_cases(db_dsn, POINTS[:1])
    with service(db_dsn, role=None) as client:
        client.headers["Authorization"] = f"Bearer {secret}"
        body = gql(client, "{ cases(first: 1) { totalCount } }")
        assert body["data"] == {"cases": {"totalCount": len(expected)}}


async def test_staff_of_other_points_never_share_a_compiled_statement(demo_dsn: str) -> None:
    """A compiled statement carries its viewer's points as parameters: the one kept for one
    point's staff must not serve another point's staff asking the same document."""
    with service(demo_dsn, role=None, LIAISON_EXECUTION="compiled") as client:
        for point in (POINTS[0], OTHER, POINTS[0]):
            expected = await own_cases(demo_dsn, [point])
            response = client.post(
                "/graphql",
                json={"query": CASES, "variables": {"first": 100}},
                headers=bearer("contact_point", contactPoints=[point]),
            )
            assert response.headers[HEADER] == "compiled"
            cases = response.json()["data"]["cases"]
            assert {n["contactPoint"]["code"] for n in cases["nodes"]} == {point}
            assert cases["totalCount"] == len(expected)
