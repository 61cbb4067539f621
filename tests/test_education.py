"""Consumer education (消费教育): Pudong's published figures through HTTP, the activities of a
contact point on both paths, and imports of activity reports from tests/imports/."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from starlette.testclient import TestClient

from resolvers.imports import Actor, run_import

from .support import compiled_and_verified, data, service

FILES = Path(__file__).parent / "imports"
ME = Actor("cli:tester", "cli")

PUDONG_SINCE_2015 = """{ district(code: "310115") { stats {
  education(period: {from: "2015-01-01", before: "2019-07-06"}) {
    activities attendance copies trainingAttendance byKind { kind activities attendance copies } } } } }"""

POINT = """query Point($code: String!) { contactPoint(code: $code) { code
  educationActivities(first: 5, filter: {kinds: [TRAINING, CAMPAIGN_315]}) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id heldOn kind attendance copies title contactPoint { code } } }
  all: educationActivities(last: 3, orderBy: {field: HELD_ON, direction: ASC}) { totalCount edges { cursor node { heldOn } } } } }"""


@pytest.fixture(scope="module")
def client(demo_dsn: str) -> Iterator[TestClient]:
    with service(demo_dsn, role=None) as client:
        yield client


def test_pudong_published_education_figures(client: TestClient) -> None:
    found = data(client, PUDONG_SINCE_2015)["district"]["stats"]["education"]
    assert found["trainingAttendance"] > 80_000, "培训8万余人次"
    assert found["copies"] > 100_000, "分发宣传材料10余万份"
    by_kind = {k["kind"]: k for k in found["byKind"]}
    assert set(by_kind) == {"TRAINING", "LEAFLETS", "CAMPAIGN_315", "OTHER"}
    assert found["trainingAttendance"] == by_kind["TRAINING"]["attendance"]
    assert found["activities"] == sum(k["activities"] for k in by_kind.values())
    assert found["copies"] == sum(k["copies"] for k in by_kind.values())
    assert found["attendance"] == sum(k["attendance"] for k in by_kind.values())


async def test_figures_agree_with_the_rows(client: TestClient, demo_dsn: str) -> None:
    conn = await asyncpg.connect(demo_dsn)
    try:
        expected = await conn.fetchrow(
            """SELECT count(*), sum(a.attendance) FILTER (WHERE a.kind = 'training'), sum(a.copies)
                 FROM education_activity a JOIN contact_point p ON p.id = a.contact_point_id
                WHERE p.district_code = '310115' AND a.held_on >= '2015-01-01' AND a.held_on < '2019-07-06'"""
        )
        busiest = await conn.fetchval(
            "SELECT p.code FROM education_activity a JOIN contact_point p ON p.id = a.contact_point_id"
            " GROUP BY p.code ORDER BY count(*) DESC, p.code LIMIT 1"
        )
        own = await conn.fetchrow(
            "SELECT count(*), sum(attendance), sum(copies) FROM education_activity a"
            " JOIN contact_point p ON p.id = a.contact_point_id WHERE p.code = $1",
            busiest,
        )
    finally:
        await conn.close()
    found = data(client, PUDONG_SINCE_2015)["district"]["stats"]["education"]
    assert (found["activities"], found["trainingAttendance"], found["copies"]) == tuple(expected)
    point = data(
        client,
        "query P($c: String!) { contactPoint(code: $c) { education { activities attendance copies } } }",
        c=busiest,
    )["contactPoint"]["education"]
    assert (point["activities"], point["attendance"], point["copies"]) == tuple(own)


def test_network_and_region_education_add_up(client: TestClient) -> None:
    found = data(
        client,
        """{ networkStats { education { activities copies } }
             region(code: "310000") { stats { education { activities } districts: __typename } districts { stats { education { activities } } } } }""",
    )
    per_district = sum(d["stats"]["education"]["activities"] for d in found["region"]["districts"])
    assert found["region"]["stats"]["education"]["activities"] == per_district
    assert found["networkStats"]["education"]["activities"] >= per_district > 0


def test_a_points_activities_compile_and_match(demo_dsn: str) -> None:
    found = compiled_and_verified(demo_dsn, POINT, code="CP310115-00001")
    point = found["contactPoint"]["educationActivities"]
    days = [n["heldOn"] for n in point["nodes"]]
    assert days == sorted(days, reverse=True)
    assert all(n["kind"] in ("TRAINING", "CAMPAIGN_315") for n in point["nodes"])


EDUCATION = """query Education($period: Period) {
  networkStats { education(period: $period) { ...figures } }
  region(code: "310000") { stats { education(period: $period) { ...figures } }
    districts { code stats { education(period: $period) { ...figures } } } }
  district(code: "310115") { streets { name stats { education(period: $period) { ...figures } } } }
}
fragment figures on EducationStats {
  activities attendance copies trainingAttendance byKind { kind activities attendance copies } }"""


@pytest.mark.parametrize("period", [None, {"from": "2020-01-01", "before": "2021-01-01"}, {"from": "2031-01-01"}])
def test_education_statistics_of_every_scope_compile_and_match(demo_dsn: str, period: dict[str, str] | None) -> None:
    found = compiled_and_verified(demo_dsn, EDUCATION, period=period)
    network = found["networkStats"]["education"]
    if period is not None and period["from"] == "2031-01-01":  # none held: zeros and no kinds, as on the generic path
        assert network == {"activities": 0, "attendance": 0, "copies": 0, "trainingAttendance": 0, "byKind": []}
        return
    assert network["activities"] == sum(k["activities"] for k in network["byKind"]) > 0
    assert network["trainingAttendance"] == sum(k["attendance"] for k in network["byKind"] if k["kind"] == "TRAINING")
    districts = found["region"]["districts"]
    assert sum(d["stats"]["education"]["activities"] for d in districts) == network["activities"]


POINTS_EDUCATION = """query PointsEducation($period: Period) {
  contactPoint(code: "CP310115-00001") { code education { ...figures } held: education(period: $period) { activities } }
  district(code: "310115") { contactPoints(first: 20) { nodes { code education(period: $period) { ...figures } } } }
}
fragment figures on EducationStats {
  __typename activities attendance copies trainingAttendance byKind { kind activities attendance copies } }"""


@pytest.mark.parametrize("period", [None, {"from": "2020-01-01", "before": "2021-01-01"}, {"from": "2031-01-01"}])
def test_a_points_education_statistics_compile_and_match(demo_dsn: str, period: dict[str, str] | None) -> None:
    """A contact point's education figures are its own scope's tallies, in the one statement,
    as a district's are; a point that held none has zeros and no kinds, as on the generic path."""
    found = compiled_and_verified(demo_dsn, POINTS_EDUCATION, period=period)
    point = found["contactPoint"]["education"]
    assert point["activities"] == sum(k["activities"] for k in point["byKind"]) > 0
    points = found["district"]["contactPoints"]["nodes"]
    held = [p["education"]["activities"] for p in points]
    if period is not None and period["from"] == "2031-01-01":
        assert held == [0] * len(points) and found["contactPoint"]["held"] == {"activities": 0}
    else:
        assert any(held) and not all(held), held  # a point that held none is in the page


def test_an_inverted_period_is_refused(client: TestClient) -> None:
    body = client.post(
        "/graphql",
        json={
            "query": '{ networkStats { education(period: {from: "2020-01-01", before: "2019-01-01"}) { activities } } }'
        },
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def run(conn: asyncpg.Connection, source: str | bytes, apply: bool = False):
    raw = (FILES / source).read_bytes() if isinstance(source, str) else source
    return await run_import(conn, "activities", io.BytesIO(raw), file_name="activities", apply=apply, actor=ME)


async def test_import_activities_in_chinese_then_again(conn: asyncpg.Connection) -> None:
    before = await conn.fetchval("SELECT count(*) FROM education_activity")
    dry = await run(conn, "activities.csv")
    assert (dry.created, dry.updated, dry.unchanged, dry.rejected_rows) == (3, 0, 0, 0)
    assert await conn.fetchval("SELECT count(*) FROM education_activity") == before
    report = await run(conn, "activities.csv", apply=True)
    assert report.applied and report.created == 3
    rows = await conn.fetch(
        "SELECT p.code, a.held_on::text, a.kind, a.attendance, a.copies, a.title FROM education_activity a"
        " JOIN contact_point p ON p.id = a.contact_point_id WHERE a.id > (SELECT max(id) - 3 FROM education_activity)"
        " ORDER BY a.held_on"
    )
    assert [tuple(r) for r in rows] == [
        ("CP310115-00001", "2021-03-15", "campaign_315", 120, 300, "2021年3·15宣传活动"),
        ("CP310115-00001", "2021-04-02", "training", 45, 0, "消费者权益保护法讲座"),
        ("CP310101-00002", "2021-05-06", "leaflets", 0, 200, ""),
    ]
    again = await run(conn, "activities.csv", apply=True)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    changed = (FILES / "activities.csv").read_text().replace(",45,", ",50,").encode()
    third = await run(conn, changed, apply=True)
    assert (third.created, third.updated, third.unchanged) == (0, 1, 2)


async def test_import_activities_in_english(conn: asyncpg.Connection) -> None:
    report = await run(conn, "activities_en.csv", apply=True)
    assert (report.created, report.rejected_rows) == (2, 0)
    kinds = await conn.fetch(
        "SELECT a.kind, a.attendance, a.copies FROM education_activity a JOIN contact_point p ON p.id = a.contact_point_id"
        " WHERE p.code = 'CP310115-00002' AND a.held_on = '2021-06-01' ORDER BY a.kind"
    )
    assert [tuple(k) for k in kinds] == [("leaflets", 0, 80), ("training", 30, 0)]


async def test_import_activities_bad_rows(conn: asyncpg.Connection) -> None:
    before = await conn.fetchval("SELECT count(*) FROM education_activity")
    report = await run(conn, "activities_bad.csv", apply=True)
    assert not report.applied
    found: dict[int, list[tuple[str, str]]] = {}
    for r in report.rejected:
        found.setdefault(r.row, []).append((r.column, r.reason))
    assert found[2] == [("联络点编号", "contact point CP310115-99999 is not known")]
    assert found[3][0][0] == "活动类型" and "is not a kind of activity" in found[3][0][1]
    assert found[4][0][0] == "参加人次" and "not a whole number" in found[4][0][1]
    assert found[5][0][0] == "活动日期" and "before the contact point was set up" in found[5][0][1]
    assert found[7] == [("联络点编号", "the same key as row 6 above")]
    assert report.rejected_rows == 5
    assert await conn.fetchval("SELECT count(*) FROM education_activity") == before
