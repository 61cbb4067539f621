"""The three-tier honours (三级引领): tiers on contact points, as a filter and counted, through
HTTP on both paths, and imported as awards."""

from __future__ import annotations

import io
from collections.abc import Iterator

import asyncpg
import pytest
from starlette.testclient import TestClient

from resolvers.imports import Actor, run_import

from .support import compiled_and_verified, data, service

PUDONG = """query Pudong { district(code: "310115") { stats { honours { honour tier count } }
  streets { name stats { honours { tier count } } } }
  networkStats { honours { __typename honour tier count } } }"""


@pytest.fixture(scope="module")
def client(demo_dsn: str) -> Iterator[TestClient]:
    with service(demo_dsn, role=None) as client:
        yield client


def points(client: TestClient, filter: str) -> int:
    found = data(client, f"{{ contactPoints(first: 0, filter: {{{filter}}}) {{ totalCount }} }}")
    return found["contactPoints"]["totalCount"]


def test_pudong_three_tiers_through_the_api(client: TestClient) -> None:
    pudong = 'districtCodes: ["310115"]'
    assert points(client, pudong + ", honourTiers: [1]") == 57, "市级示范联络点"
    assert points(client, pudong + ", honourTiers: [2]") == 127, "浦东百佳联络点"
    grassroots = points(client, pudong + ", honourTiers: [3]")
    assert grassroots == points(client, pudong + ", honours: [GRASSROOTS_EXCELLENT]") > 0
    leading = points(client, pudong + ", honourTiers: [1, 2, 3]")
    assert 127 + grassroots <= leading <= 57 + 127 + grassroots, "a point may hold more than one honour"


def test_honour_statistics_on_both_paths(demo_dsn: str) -> None:
    found = compiled_and_verified(demo_dsn, PUDONG)
    tiers = [(h["honour"], h["tier"], h["count"]) for h in found["district"]["stats"]["honours"]]
    assert [t[:2] for t in tiers] == [
        ("MUNICIPAL_DEMONSTRATION", 1),
        ("PUDONG_HUNDRED_BEST", 2),
        ("GRASSROOTS_EXCELLENT", 3),
    ]
    assert (tiers[0][2], tiers[1][2]) == (57, 127)
    by_street = sum(h["count"] for s in found["district"]["streets"] for h in s["stats"]["honours"] if h["tier"] == 3)
    assert by_street == tiers[2][2]
    network = {h["honour"]: h["count"] for h in found["networkStats"]["honours"]}
    assert network["PUDONG_HUNDRED_BEST"] == 127 and network["MUNICIPAL_DEMONSTRATION"] > 57


def test_a_points_honours_carry_their_tier(client: TestClient) -> None:
    found = data(
        client,
        """{ contactPoints(first: 5, filter: {honourTiers: [3]}) { nodes { code honours { honour tier awardedOn } } } }""",
    )
    for point in found["contactPoints"]["nodes"]:
        assert ("GRASSROOTS_EXCELLENT", 3) in {(h["honour"], h["tier"]) for h in point["honours"]}


async def test_importing_a_grassroots_honour(conn: asyncpg.Connection) -> None:
    csv = "联络点编号,荣誉,命名日期\nCP310101-00003,基层优秀联络点,2021年3月15日\n".encode()
    report = await run_import(
        conn, "awards", io.BytesIO(csv), file_name="h.csv", apply=True, actor=Actor("cli:tester", "cli")
    )
    assert report.applied and report.created == 1
    row = await conn.fetchrow(
        "SELECT h.honour, h.tier FROM contact_point_honour h JOIN contact_point p ON p.id = h.contact_point_id"
        " WHERE p.code = 'CP310101-00003' AND h.honour = 'grassroots_excellent'"
    )
    assert tuple(row) == ("grassroots_excellent", 3)
    with pytest.raises(asyncpg.GeneratedAlwaysError):  # the tier follows from the honour
        await conn.execute("UPDATE contact_point_honour SET tier = 1 WHERE honour = 'grassroots_excellent'")
