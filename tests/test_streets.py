"""Streets and towns (街镇): the migration that made them rows, filters and statistics by
street through HTTP, on both paths."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import asyncpg
import pytest
from starlette.testclient import TestClient

from db.migrate import load_migrations, migrate

from .support import compiled_and_verified, data, gql, service

BEFORE_STREETS = [m for m in load_migrations() if m.name < "0016"]
assert any(m.name.startswith("0016_") for m in load_migrations()) and BEFORE_STREETS


async def test_the_migration_moves_every_points_street_into_a_row(empty_dsn: str) -> None:
    await migrate(empty_dsn, BEFORE_STREETS)
    conn = await asyncpg.connect(empty_dsn)
    try:
        # 600 points over two districts and 7 street texts, one of them in both districts.
        await conn.execute(
            """INSERT INTO contact_point (code, name, district_code, street_town, host_kind, address, established_on)
               SELECT 'CP' || d || '-' || lpad(n::text, 5, '0'), '联络点' || n, d,
                      (ARRAY['外滩街道', '南京东路街道', '同名镇', '打浦桥街道'])[1 + n % 4], 'shop', '某路' || n || '号',
                      DATE '2016-01-01' + n
                 FROM unnest(ARRAY['310101', '310104']) d, generate_series(1, 300) n"""
        )
        await conn.execute(
            "UPDATE contact_point SET street_town = '徐家汇街道' WHERE district_code = '310104' AND street_town = '外滩街道'"
        )
        before = await conn.fetch("SELECT code, district_code, street_town FROM contact_point ORDER BY code")
        pairs = {(r["district_code"], r["street_town"]) for r in before}
        assert len(before) == 600 and len(pairs) == 8

        applied = await migrate(empty_dsn)
        assert applied[0].startswith("0016_")

        after = await conn.fetch(
            "SELECT p.code, p.district_code, s.name FROM contact_point p JOIN street s ON s.id = p.street_id"
            " AND s.district_code = p.district_code ORDER BY p.code"
        )
        assert [tuple(r) for r in after] == [tuple(r) for r in before]
        assert await conn.fetchval("SELECT count(*) FROM contact_point") == 600
        assert {tuple(r) for r in await conn.fetch("SELECT district_code, name FROM street")} == pairs
        assert not await conn.fetchval(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'contact_point' AND column_name = 'street_town'"
        )
        with pytest.raises(asyncpg.ForeignKeyViolationError):  # a point's street lies in its district
            await conn.execute(
                "UPDATE contact_point SET district_code = '310105', code = 'CP310105-00001' WHERE code = 'CP310101-00001'"
            )
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def client(demo_dsn: str) -> Iterator[TestClient]:
    with service(demo_dsn) as client:
        yield client


@pytest.fixture(scope="module")
async def huamu(demo_dsn: str) -> dict[str, int]:
    """花木街道 (Pudong) counted in SQL: its points, their cases, education and honours."""
    conn = await asyncpg.connect(demo_dsn)
    try:
        row = await conn.fetchrow(
            """SELECT s.id,
                      (SELECT count(*) FROM contact_point p WHERE p.street_id = s.id) AS points,
                      (SELECT count(*) FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id
                        WHERE p.street_id = s.id) AS cases,
                      (SELECT count(*) FROM education_activity a JOIN contact_point p ON p.id = a.contact_point_id
                        WHERE p.street_id = s.id) AS activities
                 FROM street s WHERE s.district_code = '310115' AND s.name = '花木街道'"""
        )
        return dict(row)
    finally:
        await conn.close()


def test_filters_by_street(client: TestClient, huamu: dict[str, int]) -> None:
    found = data(
        client,
        """{ contactPoints(first: 3, filter: {streetNames: ["花木街道"]}) { totalCount nodes { street { name district { code } } } }
             cases(first: 0, filter: {streetNames: ["花木街道"]}) { totalCount } }""",
    )
    assert found["contactPoints"]["totalCount"] == huamu["points"] > 0
    assert {(n["street"]["name"], n["street"]["district"]["code"]) for n in found["contactPoints"]["nodes"]} == {
        ("花木街道", "310115")
    }
    assert found["cases"]["totalCount"] == huamu["cases"] > 0


STREETS = """query Streets { district(code: "310115") { streets { id name
  stats { contactPoints { total fiveInto byHostKind { hostKind count } byCurrentStars { stars count } }
          starAwards { total distinctRatedPoints } }
  contactPoints(first: 2, orderBy: {field: NAME}) { totalCount nodes { code street { name } } } } } }"""


def test_district_streets_and_their_statistics_compile(demo_dsn: str, huamu: dict[str, int]) -> None:
    found = compiled_and_verified(demo_dsn, STREETS)
    streets = {s["name"]: s for s in found["district"]["streets"]}
    assert len(streets) > 30
    assert streets["花木街道"]["stats"]["contactPoints"]["total"] == huamu["points"]
    assert sum(s["stats"]["contactPoints"]["total"] for s in streets.values()) == 1919
    assert all(s["contactPoints"]["totalCount"] == s["stats"]["contactPoints"]["total"] for s in streets.values())


def test_a_streets_cases_and_education(client: TestClient, huamu: dict[str, int]) -> None:
    query = """query S($id: ID!) { node(id: $id) { ... on Street { name stats {
      cases { total byKind { kind count } } education { activities } } } } }"""
    street = base64.b64encode(f"Street:{huamu['id']}".encode()).decode()
    found = data(client, query, id=street)["node"]
    assert found["name"] == "花木街道"
    assert found["stats"]["cases"]["total"] == huamu["cases"]
    assert sum(k["count"] for k in found["stats"]["cases"]["byKind"]) == huamu["cases"]
    assert found["stats"]["education"]["activities"] == huamu["activities"]


STREET_CASES = """query StreetCases($period: Period) { district(code: "310115") {
  stats { cases(period: $period) { total } }
  streets { name stats { cases(period: $period) { total settledOnlineMediations settlementRate medianDaysToClose
    amountClaimed amountRecovered byStatus { status count } byKind { kind count } byChannel { channel count }
    byCategory { category count } } } } } }"""


@pytest.mark.parametrize("period", [None, {"from": "2020-01-01", "before": "2021-01-01"}, {"from": "2031-01-01"}])
def test_streets_case_statistics_compile_from_the_rows_and_match(demo_dsn: str, period: dict[str, str] | None) -> None:
    found = compiled_and_verified(demo_dsn, STREET_CASES, period=period)["district"]
    streets = [s["stats"]["cases"] for s in found["streets"]]
    assert sum(s["total"] for s in streets) == found["stats"]["cases"]["total"]
    if period is None:
        assert any(s["settlementRate"] is not None and s["medianDaysToClose"] is not None for s in streets)


def test_a_short_period_of_a_streets_cases_is_refused_to_the_public(demo_dsn: str) -> None:
    query = """{ district(code: "310115") { streets { stats {
      cases(period: {from: "2020-01-01", before: "2020-01-02"}) { total } } } } }"""
    with service(demo_dsn, role=None) as client:
        body = gql(client, query)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
