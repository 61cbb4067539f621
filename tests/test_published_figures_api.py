"""domain.md's published figures, asked of the API the way a frontend would ask them.

tests/test_demo_figures.py proves them by SQL; these prove the API's filters and counts
give them back. Figures that need statistics (awards by batch, levels) come with `stats`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from .support import data, service


@pytest.fixture(scope="module")
def client(demo_dsn: str) -> Iterator[TestClient]:
    with service(demo_dsn) as client:
        yield client


def points(client: TestClient, filter: str) -> int:
    return data(client, f"{{ contactPoints(first: 0, filter: {{{filter}}}) {{ totalCount }} }}")["contactPoints"][
        "totalCount"
    ]


def cases(client: TestClient, filter: str) -> int:
    return data(client, f"{{ cases(first: 0, filter: {{{filter}}}) {{ totalCount }} }}")["cases"]["totalCount"]


FIVE_INTO = "[MARKET_MALL, SCENIC_AREA, SCHOOL, BARRACKS, ENTERPRISE]"


@pytest.mark.parametrize(
    ("figure", "filter", "expected"),
    [
        ("Shanghai's contact points", 'regionCodes: ["310000"]', 8862),
        ("Pudong's contact points", 'districtCodes: ["310115"]', 1919),
        (
            "Pudong's residential committee points",
            'districtCodes: ["310115"], hostKinds: [RESIDENTIAL_COMMITTEE]',
            1288,
        ),
        ("Pudong's five-into points", f'districtCodes: ["310115"], hostKinds: {FIVE_INTO}', 456),
        ("Pudong's other points", 'districtCodes: ["310115"], hostKinds: [SHOP, OTHER]', 175),
        ("Pudong's demonstration points", 'districtCodes: ["310115"], honours: [MUNICIPAL_DEMONSTRATION]', 57),
        ("Pudong's hundred-best points", 'districtCodes: ["310115"], honours: [PUDONG_HUNDRED_BEST]', 127),
        ("1st batch", "ratedInBatches: [1]", 84),
        ("2nd batch", "ratedInBatches: [2]", 155),
        ("distinct rated points", "ratedInBatches: [1, 2]", 216),
        ("2nd-batch ODR units", "ratedInBatches: [2], programmes: [ODR]", 27),
        ("2nd-batch offline no-reason-return units", "ratedInBatches: [2], programmes: [OFFLINE_NO_REASON_RETURN]", 29),
        ("2nd-batch Yangtze Delta unit", "ratedInBatches: [2], programmes: [YRD_CROSS_STORE_RETURN]", 1),
        ("2nd-batch reassured excellent", "ratedInBatches: [2], programmeLevels: [EXCELLENT]", 25),
        ("2nd-batch reassured compliant", "ratedInBatches: [2], programmeLevels: [COMPLIANT]", 46),
        ("2nd-batch reassured committed", "ratedInBatches: [2], programmeLevels: [COMMITTED]", 10),
        (
            "2nd-batch reassured-consumption units (25 + 46 + 10)",
            "ratedInBatches: [2], programmes: [REASSURED_CONSUMPTION]",
            81,
        ),
    ],
)
def test_contact_point_figures(client: TestClient, figure: str, filter: str, expected: int) -> None:
    assert points(client, filter) == expected, figure


def test_current_stars_split_the_rated_points(client: TestClient) -> None:
    five, four = points(client, "currentStars: [FIVE]"), points(client, "currentStars: [FOUR]")
    assert five + four == 216
    assert five >= 56


ONLINE_SETTLED_2020 = (
    'kinds: [COMPLAINT], channels: [ONLINE_MEDIATION], statuses: [SETTLED], openedFrom: "2020-01-01T00:00:00+08:00",'
    ' openedBefore: "2021-01-01T00:00:00+08:00"'
)


def test_online_mediation_figures(client: TestClient) -> None:
    assert cases(client, ONLINE_SETTLED_2020) == 466
    half = cases(client, ONLINE_SETTLED_2020 + ", categories: [AFTER_SALES_SERVICE, PRODUCT_QUALITY]")
    assert abs(half - 233) <= 10, "about half are after-sales service or product quality"


def test_pudong_since_2015(client: TestClient) -> None:
    window = (
        'districtCodes: ["310115"], openedFrom: "2015-01-01T00:00:00+08:00", openedBefore: "2019-07-06T00:00:00+08:00"'
    )
    assert cases(client, window + ", kinds: [CONSULTATION, COMPLAINT]") > 20_000
    assert cases(client, window + ", kinds: [ILLEGAL_CONDUCT_LEAD]") > 1_000


def test_star_award_figures_from_stats(client: TestClient) -> None:
    awards = data(
        client, "{ networkStats { starAwards { total upgrades distinctRatedPoints byBatch { batch stars count } } } }"
    )
    stats = awards["networkStats"]["starAwards"]
    by_batch = {(b["batch"], b["stars"]): b["count"] for b in stats["byBatch"]}
    assert by_batch[(1, "FOUR")] + by_batch[(1, "FIVE")] == 84, "1st batch"
    assert (by_batch[(2, "FIVE")], by_batch[(2, "FOUR")]) == (56, 99), "2nd batch: 56 five-star, 99 four-star"
    assert stats["upgrades"] == 23, "upgrades to five stars"
    assert stats["total"] == 239, "awards in both batches"
    assert stats["distinctRatedPoints"] == 216, "distinct rated points"


def test_pudong_figures_from_district_stats(client: TestClient) -> None:
    found = data(
        client,
        """{ district(code: "310115") { stats { contactPoints { total fiveInto byHostKind { hostKind count } }
               cases(period: {from: "2015-01-01", before: "2019-07-06"}) { byKind { kind count } } } } }""",
    )["district"]["stats"]
    points = found["contactPoints"]
    by_kind = {k["hostKind"]: k["count"] for k in points["byHostKind"]}
    assert (points["total"], by_kind["RESIDENTIAL_COMMITTEE"], points["fiveInto"]) == (1919, 1288, 456)
    assert points["total"] - by_kind["RESIDENTIAL_COMMITTEE"] - points["fiveInto"] == 175
    cases = {k["kind"]: k["count"] for k in found["cases"]["byKind"]}
    assert cases["CONSULTATION"] + cases["COMPLAINT"] > 20_000
    assert cases["ILLEGAL_CONDUCT_LEAD"] > 1_000


def test_online_mediations_of_2020_from_stats(client: TestClient) -> None:
    found = data(
        client,
        """{ region(code: "310000") { stats { cases(period: {from: "2020-01-01", before: "2021-01-01"}) {
               settledOnlineMediations settlementRate medianDaysToClose amountClaimed amountRecovered } } } }""",
    )["region"]["stats"]["cases"]
    assert found["settledOnlineMediations"] == 466
    assert 0 < found["settlementRate"] <= 1 and found["medianDaysToClose"] > 0
    assert float(found["amountRecovered"]) <= float(found["amountClaimed"])


def test_bad_period_is_bad_user_input(client: TestClient) -> None:
    from .support import gql

    body = gql(client, '{ networkStats { cases(period: {from: "2021-01-01", before: "2020-01-01"}) { total } } }')
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
