"""Statements per request depend on the query's shape, never on the data's size."""

from __future__ import annotations

import base64

from starlette.testclient import TestClient

from .support import app_state, data, service

SHANGHAI = ["310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112",
            "310113", "310114", "310115", "310116", "310117", "310118", "310120", "310151"]  # fmt: skip

DASHBOARD = """query ($ids: [ID!]!) { nodes(ids: $ids) { ... on District { code name
  contactPoints(first: 20, filter: {hostKinds: [RESIDENTIAL_COMMITTEE, MARKET_MALL]}) { totalCount
    pageInfo { hasNextPage endCursor }
    nodes { code name district { code } currentRating { stars batch }
      cases(first: 5) { totalCount nodes { number status respondent { name } events { status at } } } } } } } }"""


def district_ids(codes: list[str]) -> list[str]:
    return [base64.b64encode(f"District:{code}".encode()).decode() for code in codes]


def statements(client: TestClient, query: str, **variables: object) -> tuple[int, dict]:
    db = app_state(client).db
    before = db.statements
    found = data(client, query, **variables)
    return db.statements - before, found


def test_one_district_or_sixteen_cost_the_same_statements(demo_dsn: str) -> None:
    with service(demo_dsn) as client:
        one, found_one = statements(client, DASHBOARD, ids=district_ids(["310104"]))
        all_, found_all = statements(client, DASHBOARD, ids=district_ids(SHANGHAI))
    assert len(found_one["nodes"]) == 1 and len(found_all["nodes"]) == 16
    # A field path whose keys are all null costs no statement; Xuhui's page reaches every path.
    respondents = [
        c["respondent"] for p in found_one["nodes"][0]["contactPoints"]["nodes"] for c in p["cases"]["nodes"]
    ]
    assert any(respondents) and any(r is None for r in respondents)
    cases = sum(len(p["cases"]["nodes"]) for d in found_all["nodes"] for p in d["contactPoints"]["nodes"])
    assert cases > 100, "the query must actually reach many cases"
    assert one == all_, f"1 district: {one} statements, 16 districts: {all_}"
    assert one <= 10


def test_more_data_costs_no_more_statements(demo_dsn: str, volume_dsn: str) -> None:
    ids = district_ids(SHANGHAI)
    with service(demo_dsn) as client:
        small, _ = statements(client, DASHBOARD, ids=ids)
    with service(volume_dsn) as client:
        large, _ = statements(client, DASHBOARD, ids=ids)
        totals = data(client, "{ cases(first: 0) { totalCount } }")["cases"]["totalCount"]
    assert totals > 70_000
    assert small == large


def test_nested_pages_are_per_parent(demo_dsn: str) -> None:
    with service(demo_dsn) as client:
        found = data(client, DASHBOARD, ids=district_ids(["310101", "310115"]))
    for district in found["nodes"]:
        points = district["contactPoints"]["nodes"]
        assert len(points) == 20
        assert all(p["district"]["code"] == district["code"] for p in points)
        assert all(len(p["cases"]["nodes"]) <= 5 for p in points)


STATS = """query ($ids: [ID!]!) { nodes(ids: $ids) { ... on District { code stats {
  contactPoints { total byHostKind { hostKind count } byCurrentStars { stars count } }
  starAwards { total upgrades } memberships { programme count }
  cases(period: {from: "2020-01-01"}) { total byStatus { status count } settlementRate }
  crossStoreReturns { count fromRegion { name } toRegion { name } } } } } }"""


def test_statistics_of_sixteen_districts_cost_what_one_costs(demo_dsn: str) -> None:
    # What serving costs: verify mode would add the raw rows' reference for cases and returns.
    with service(demo_dsn, LIAISON_EXECUTION="dataloader") as client:
        one, found_one = statements(client, STATS, ids=district_ids(["310115"]))
        all_, found_all = statements(client, STATS, ids=district_ids(SHANGHAI))
    assert found_one["nodes"][0]["stats"]["contactPoints"]["total"] == 1919
    assert sum(n["stats"]["contactPoints"]["total"] for n in found_all["nodes"]) == 8862
    assert one == all_ <= 7
