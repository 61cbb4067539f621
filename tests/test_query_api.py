"""The query API over HTTP on the demo data: relations, lookups, nodes, errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from .support import data, gql, service


@pytest.fixture(scope="module")
def client(demo_dsn: str) -> Iterator[TestClient]:
    with service(demo_dsn) as client:
        yield client


def test_lookups_by_natural_key(client: TestClient) -> None:
    found = data(
        client,
        """{ region(code: "310000") { name } district(code: "310115") { name region { code } }
             contactPoint(code: "CP310115-00001") { name district { code } hostKind }
             unknown: contactPoint(code: "CP310115-99999") { name } }""",
    )
    assert found["region"] == {"name": "上海市"}
    assert found["district"] == {"name": "浦东新区", "region": {"code": "310000"}}
    assert found["contactPoint"] == {
        "name": "上海野生动物园消费维权联络点",
        "district": {"code": "310115"},
        "hostKind": "SCENIC_AREA",
    }
    assert found["unknown"] is None


def test_both_directions_of_relations(client: TestClient) -> None:
    point = data(
        client,
        """{ contactPoint(code: "CP310115-00001") {
               currentRating { stars batch contactPoint { code } }
               starAwards { batch stars }
               cases(first: 1) { nodes { number contactPoint { code } events { status } } } } }""",
    )["contactPoint"]
    assert point["currentRating"]["batch"] == 2 and point["currentRating"]["contactPoint"]["code"] == "CP310115-00001"
    assert point["starAwards"][-1] == {"batch": 2, "stars": point["currentRating"]["stars"]}
    case = point["cases"]["nodes"][0]
    assert case["contactPoint"]["code"] == "CP310115-00001"
    assert case["events"][0]["status"] == "RECEIVED"


def test_cross_store_returns_link_stores_of_one_enterprise(client: TestClient) -> None:
    found = data(
        client,
        """{ crossStoreReturns(first: 5, filter: {purchaseRegionCodes: ["310000"], returnRegionCodes: ["330000"]}) {
               totalCount nodes { code enterprise { creditCode } purchaseStore { district { region { code } }
               enterprise { creditCode } } returnStore { district { region { code } } enterprise { creditCode } } } } }""",
    )["crossStoreReturns"]
    assert found["totalCount"] > 0
    for node in found["nodes"]:
        assert node["purchaseStore"]["district"]["region"]["code"] == "310000"
        assert node["returnStore"]["district"]["region"]["code"] == "330000"
        assert node["purchaseStore"]["enterprise"] == node["returnStore"]["enterprise"] == node["enterprise"]


def test_node_and_nodes_refetch_every_type(client: TestClient) -> None:
    found = data(
        client,
        """{ contactPoint(code: "CP310115-00001") { id district { id region { id } }
               starAwards { id } cases(first: 1) { nodes { id respondent { id } } } memberships { id } }
             enterprises(first: 1) { nodes { id stores { id } } }
             programmes { id } crossStoreReturns(first: 1) { nodes { id } } }""",
    )
    point = found["contactPoint"]
    ids = [point["id"], point["district"]["id"], point["district"]["region"]["id"], point["starAwards"][0]["id"]]
    ids += [found["enterprises"]["nodes"][0]["id"], found["enterprises"]["nodes"][0]["stores"][0]["id"]]
    ids += [found["programmes"][0]["id"], found["crossStoreReturns"]["nodes"][0]["id"]]
    ids += [point["cases"]["nodes"][0]["id"]]
    refetched = data(client, "query ($ids: [ID!]!) { nodes(ids: $ids) { id __typename } }", ids=ids)["nodes"]
    assert [n["id"] for n in refetched] == ids
    types = [base64.b64decode(i).decode().split(":")[0] for i in ids]
    assert [n["__typename"] for n in refetched] == types
    missing = base64.b64encode(b"ContactPoint:CP310115-99999").decode()
    assert data(client, "query ($id: ID!) { node(id: $id) { id } }", id=missing) == {"node": None}


def test_programmes_and_members(client: TestClient) -> None:
    found = data(
        client,
        """{ programmes { code name members(first: 3) { totalCount nodes { programme { code } member {
               __typename ... on ContactPoint { code } ... on Enterprise { creditCode } } } } } }""",
    )["programmes"]
    by_code = {p["code"]: p for p in found}
    assert by_code["YRD_CROSS_STORE_RETURN"]["name"] == "长三角异地异店退换货"
    yrd = by_code["YRD_CROSS_STORE_RETURN"]["members"]
    assert yrd["totalCount"] >= 82
    assert all(n["programme"]["code"] == "YRD_CROSS_STORE_RETURN" for n in yrd["nodes"])


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ contactPoints(first: 101) { totalCount } }", "between 0 and 100"),
        ("{ contactPoints(first: -1) { totalCount } }", "between 0 and 100"),
        ("{ contactPoints(first: 5, last: 5) { totalCount } }", "not both"),
        ('{ contactPoints(after: "bm9wZQ") { totalCount } }', "not one this API gave out"),
        ('{ contactPoints(after: "!!!") { totalCount } }', "not one this API gave out"),
        (
            '{ cases(filter: {openedFrom: "2020-02-01T00:00:00Z", openedBefore: "2020-01-01T00:00:00Z"}) '
            "{ totalCount } }",
            "earlier than",
        ),
        ('{ node(id: "not-base64!") { id } }', "GlobalID"),
        ("{ contactPoints(filter: {hostKinds: [CASTLE]}) { totalCount } }", "CASTLE"),
        ("{ contactPoints(filter: {currentStars: [SIX]}) { totalCount } }", "SIX"),
        ("{ enterprises(filter: {odrClasses: [Z]}) { totalCount } }", "Z"),
        ("{ cases(filter: {statuses: [LOST]}) { totalCount } }", "LOST"),
        ("{ cases(orderBy: {field: AMOUNT}) { totalCount } }", "AMOUNT"),
        (
            '{ crossStoreReturns(filter: {returnedFrom: "2021-01-01", returnedBefore: "2020-01-01"}) { totalCount } }',
            "earlier than",
        ),
        ('{ crossStoreReturns(filter: {returnedFrom: "2021-13-01"}) { totalCount } }', "Date"),
        ('{ district(code: "310115") { contactPoints(first: 500) { totalCount } } }', "between 0 and 100"),
        ("{ programmes { members(last: 101) { totalCount } } }", "between 0 and 100"),
        ('{ cases(filter: {openedFrom: "yesterday"}) { totalCount } }', "DateTime"),
        ('{ cases(filter: {openedFrom: "2020-01-01T00:00:00"}) { totalCount } }', "offset"),
        ('{ contactPoint(code: "CP\\u0000") { name } }', "NUL"),
        ('{ contactPoints(filter: {nameContains: "\\u0000"}) { totalCount } }', "NUL"),
    ],
)
def test_bad_arguments_are_bad_user_input(client: TestClient, query: str, message: str) -> None:
    body = gql(client, query)
    assert body.get("data") in (None, {}) or all(v is None for v in body["data"].values())
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body["errors"]
    assert message in body["errors"][0]["message"]
    assert "Traceback" not in str(body) and "SELECT" not in str(body)
    assert client.get("/readyz").status_code == 200


def test_a_cursor_of_another_order_is_refused(client: TestClient) -> None:
    page = data(client, "{ contactPoints(first: 1) { pageInfo { endCursor } } }")
    cursor = page["contactPoints"]["pageInfo"]["endCursor"]
    body = gql(
        client, "query ($c: String) { contactPoints(after: $c, orderBy: {field: NAME}) { totalCount } }", c=cursor
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "another order" in body["errors"][0]["message"]


def forged(order: str, value: str, row_id: str) -> str:
    raw = f'["{order}","{value}","{row_id}"]'.encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        forged("opened_at:desc", "not a time", "1"),
        forged("opened_at:desc", "2020-01-01T00:00:00+00:00", "x1"),
        forged("opened_at:desc", "2020-01-01T00:00:00+00:00", "99999999999999999999"),
        forged("opened_at:desc", "2020-01-01T00:00:00+00:00", "1_0"),
        forged("opened_at:desc", "2020-01-01T00:00:00+00:00", "١"),
        forged("opened_at:desc", "2020-01-01T00:00:00", "1"),
        forged("number:asc", "C\\u0000", "1"),
        base64.urlsafe_b64encode(b"[" * 50_000).decode(),
    ],
)
def test_a_forged_cursor_is_bad_user_input(client: TestClient, cursor: str) -> None:
    body = gql(client, "query ($c: String) { cases(after: $c) { totalCount } }", c=cursor)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query ($n: Int) { contactPoints(first: $n) { totalCount } }", {"n": "many"}),
        ("query ($n: Int!) { contactPoints(first: $n) { totalCount } }", {}),
        ("query ($k: [HostKind!]) { contactPoints(filter: {hostKinds: $k}) { totalCount } }", {"k": ["CASTLE"]}),
    ],
)
def test_bad_variables_are_bad_user_input(client: TestClient, query: str, variables: dict) -> None:
    body = gql(client, query, **variables)
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body["errors"]
    assert "Internal" not in body["errors"][0]["message"]


def test_syntax_and_validation_errors_are_coded(client: TestClient) -> None:
    syntax = client.post("/graphql", json={"query": "{ regions { code "}).json()
    assert syntax["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    unknown = gql(client, "{ regions { population } }")
    assert unknown["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


def test_an_enterprises_returns_page_per_enterprise(client: TestClient) -> None:
    found = data(
        client,
        """{ enterprises(first: 40, filter: {programmes: [YRD_CROSS_STORE_RETURN]}) { nodes { creditCode
               crossStoreReturns(first: 3) { totalCount nodes { enterprise { creditCode } } } } } }""",
    )["enterprises"]["nodes"]
    assert len(found) == 40 and any(e["crossStoreReturns"]["totalCount"] > 3 for e in found)
    for enterprise in found:
        returns = enterprise["crossStoreReturns"]
        assert len(returns["nodes"]) == min(3, returns["totalCount"])
        assert all(r["enterprise"]["creditCode"] == enterprise["creditCode"] for r in returns["nodes"])


def test_unicode_digits_are_not_ids(client: TestClient) -> None:
    for digit in ("²", "١"):
        node_id = base64.b64encode(f"StarAward:{digit}".encode()).decode()
        assert data(client, "query ($id: ID!) { node(id: $id) { id } }", id=node_id) == {"node": None}
