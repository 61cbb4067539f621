"""The compiled path: one statement per query it knows, the generic path's answer to the byte.

Every other test runs its service in verify mode (tests/support.py), so each query the
compiler knows is answered on both paths and compared; these tests pin down which queries
must compile, what a request costs there, and that a fallback is visible.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from schema.compiled import HEADER, fallback_reason

from .support import bearer, compiled_and_verified, post, service

DASHBOARD = """query Dashboard { regions { code name districts { code name
  contactPoints(first: 20) { totalCount nodes { code name
    cases(first: 5) { totalCount nodes { number status openedAt } } } } } } }"""

FIVE_STARS = """query FiveStars { contactPoints(first: 50, filter: {currentStars: [FIVE]}) {
  totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  edges { cursor node { id code name hostKind isFiveInto district { code name region { code name } } } } } }"""

DETAIL = """query Detail($code: String!) { contactPoint(code: $code) { id code name nameEn address establishedOn
  usesWecom hasOnlineMediation currentRating { id stars batch awardedOn upgradedFrom { stars batch } }
  honours { honour awardedOn } starAwards { batch stars } memberships { id level startedOn endedOn programme { code name } }
  cases(first: 10) { totalCount nodes { id number kind channel category status amountClaimed amountRecovered
    openedAt closedAt summary consumerName consumerPhone respondent { creditCode name }
    events { at status actor note } } } } }"""

STATS = """query Stats { networkStats { memberships { programme level count } contactPoints { total fiveInto byHostKind { hostKind count } }
  starAwards { total upgrades distinctRatedPoints byBatch { __typename batch stars count } } }
  region(code: "310000") { stats { __typename contactPoints { total byCurrentStars { stars count } } }
    districts { code stats { contactPoints { total fiveInto byHostKind { hostKind count } }
      starAwards { upgrades byBatch { stars count } } memberships { programme count } } } } }"""

# Aliases, fragments, @skip/@include, __typename, backwards paging, node and nodes, to-one nulls.
SHAPES = """query Shapes($skip: Boolean!, $ids: [ID!]!) {
  __typename
  first: contactPoints(first: 3, orderBy: {field: NAME, direction: DESC}) { ...Page }
  back: contactPoints(last: 2, filter: {hostKinds: [SCHOOL, MARKET_MALL]}) {
    __typename pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
    edges { __typename cursor node { __typename code } } }
  none: contactPoint(code: "CP000000-00000") { code }
  nodes(ids: $ids) { __typename id ... on District { code kind } ... on ContactPoint { code } }
  enterprises(first: 2) { nodes { creditCode name stores { code } brands { name } } }
  programme: node(id: "UHJvZ3JhbW1lOm9kcg==") { id ... on Programme { code name } }
  hidden: regions @skip(if: $skip) { code }
  shown: regions @include(if: true) { c: code n: name }
}
fragment Page on ContactPointConnection { totalCount nodes { code name @skip(if: $skip) establishedOn } }"""


def ids(*pairs: str) -> list[str]:
    import base64

    return [base64.b64encode(p.encode()).decode() for p in pairs]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (DASHBOARD, {}),
        (FIVE_STARS, {}),
        (DETAIL, {"code": "CP310115-00001"}),
        (STATS, {}),
        (SHAPES, {"skip": True, "ids": ids("District:310115", "ContactPoint:CP310101-00002", "District:999999")}),
        (SHAPES, {"skip": False, "ids": []}),
    ],
)
def test_known_queries_cost_one_statement(demo_dsn: str, query: str, variables: dict) -> None:
    with service(demo_dsn, LIAISON_EXECUTION="compiled") as client:
        served, statements, found = post(client, query, **variables)
    assert served == "compiled"
    assert statements == 1
    assert found, "a compiled answer holds data"


@pytest.mark.parametrize("role", ["anonymous", "partner", "internal", "case_officer", "admin"])
@pytest.mark.parametrize("query", [DASHBOARD, FIVE_STARS, DETAIL, STATS, SHAPES])
def test_both_paths_answer_alike_for_every_role(demo_dsn: str, role: str, query: str) -> None:
    claims = {"partner": {"regions": ["320000"]}, "case_officer": {"districts": ["310115"]}}.get(role, {})
    headers = None if role == "anonymous" else bearer(role, **claims)
    variables = {"code": "CP310115-00001", "skip": False, "ids": ids("Case:C310115-2020-000001")}
    with service(demo_dsn, role=None) as client:
        response = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    # Anonymous callers and partners may not read consumers' data: that query falls back.
    expected = "dataloader" if query is DETAIL and role in ("anonymous", "partner") else "verified"
    if query is DASHBOARD and role == "anonymous":
        expected = "dataloader"  # cases are refused to it
    assert response.headers[HEADER] == expected


@pytest.mark.parametrize("query", [DASHBOARD, FIVE_STARS, DETAIL, STATS])
def test_one_statement_whatever_the_data_size(demo_dsn: str, volume_dsn: str, query: str) -> None:
    counts = []
    for dsn in (demo_dsn, volume_dsn):
        with service(dsn, LIAISON_EXECUTION="compiled") as client:
            served, statements, _ = post(client, query, code="CP310115-00001")
            counts.append((served, statements))
    assert counts == [("compiled", 1), ("compiled", 1)]


def test_a_query_the_compiler_does_not_know_falls_back_visibly(demo_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    query = "query Figures { _service { sdl } }"
    with caplog.at_level(logging.INFO, logger="schema.compiled"), service(demo_dsn) as client:
        for _ in range(2):
            served, _, found = post(client, query)
            assert served == "dataloader"
        engine = client.app.state.engine  # type: ignore[attr-defined]
    assert "type Query" in found["_service"]["sdl"]
    assert engine.served["dataloader"] == 2
    reason = "Query._service has no compiled form"
    assert fallback_reason(engine.caches, query, "Figures", "internal") == reason
    lines = [r.getMessage() for r in caplog.records if r.name == "schema.compiled"]
    assert lines == [f"operation Figures for the internal role runs on the generic path: {reason}"]


def test_programmes_and_their_members_compile(demo_dsn: str) -> None:
    """``programmes`` (fixed keys, in the codes' order) and ``Membership.member`` (a union:
    the contact point when the membership names one, else the enterprise)."""
    query = """{ programmes { code name members(first: 30) { totalCount nodes { level member {
      __typename ... on ContactPoint { code district { code } } ... on Enterprise { creditCode name } } } } } }"""
    found = compiled_and_verified(demo_dsn, query)
    assert [p["code"] for p in found["programmes"]][:3] == ["REASSURED_CONSUMPTION", "OFFLINE_NO_REASON_RETURN", "ODR"]
    members = [n["member"] for p in found["programmes"] for n in p["members"]["nodes"]]
    assert {m["__typename"] for m in members} == {"ContactPoint", "Enterprise"}


def test_refused_arguments_are_worded_by_the_generic_path(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_EXECUTION="compiled") as client:
        response = client.post("/graphql", json={"query": "{ contactPoints(first: 1000) { totalCount } }"})
        again = client.post("/graphql", json={"query": "{ contactPoints(first: 10) { totalCount } }"})
    assert response.headers[HEADER] == "dataloader"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert again.headers[HEADER] == "compiled"


def test_mutations_and_introspection_stay_on_the_generic_path(demo_dsn: str) -> None:
    with service(demo_dsn, LIAISON_EXECUTION="compiled") as client:
        response = client.post("/graphql", json={"query": "{ __schema { queryType { name } } }"})
    assert response.headers[HEADER] == "dataloader"
    assert response.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}}


def test_a_known_request_skips_the_pipeline_and_answers_the_same(demo_dsn: str) -> None:
    body = {"query": DETAIL, "variables": {"code": "CP310101-00003"}, "operationName": "Detail"}
    accept = {"Accept": "application/graphql-response+json", "X-Request-ID": "same-request"}
    with service(demo_dsn, LIAISON_EXECUTION="compiled") as client:
        answers = [client.post("/graphql", json=body, headers=accept) for _ in range(3)]
        served = client.app.state.engine.served  # type: ignore[attr-defined]
    assert (served["compiled"], served["fast_lane"]) == (3, 2)  # the first through the pipeline
    first, *known = answers
    for answer in known:
        assert answer.status_code == first.status_code == 200
        assert answer.headers.keys() == first.headers.keys()
        for name in ("content-type", "x-request-id", HEADER, "x-ratelimit-limit"):
            assert answer.headers[name] == first.headers[name]
        a, b = answer.json(), first.json()
        assert a["extensions"]["cost"]["budget"]["remaining"] < b["extensions"]["cost"]["budget"]["remaining"]
        assert a["extensions"]["cost"]["documentCost"] == 0  # charged once, with the first
        for doc in (a, b):
            del doc["extensions"]["cost"]["budget"]["remaining"], doc["extensions"]["cost"]["documentCost"]
        assert a == b
        assert answer.content.startswith(b'{"data":{"contactPoint":{"id":')


def kept(caches: Any, text: str, name: str, viewer: Any, variables: dict[str, Any]) -> Any:
    """The statement kept for a request of ``text``, if any (none is planned for it)."""
    from graphql import parse
    from graphql.execution.values import get_variable_values
    from graphql.utilities import get_operation_ast

    from schema import schema
    from schema.compiled import statement_for

    document = parse(text)
    operation = get_operation_ast(document, name)
    assert operation is not None
    coerced = get_variable_values(schema._schema, operation.variable_definitions or (), variables)
    assert not isinstance(coerced, list)
    return statement_for(caches, None, text, name, document, operation, coerced, viewer, 100)


async def test_saved_queries_are_compiled_ahead_at_start_up(db_dsn: str, caplog: pytest.LogCaptureFixture) -> None:
    import asyncpg

    from db import saved
    from db.access import Role, Viewer

    document = (Path(__file__).parent.parent / "examples" / "queries" / "FiveStarDirectory.graphql").read_text()
    taking = "query PointsOf($district: String!) { district(code: $district) { code name } }"
    conn = await asyncpg.connect(db_dsn)
    try:
        await saved.save(conn, "FiveStarDirectory", document, "FiveStarDirectory", "tests")
        await saved.save(conn, "PointsOf", taking, "PointsOf", "tests")
    finally:
        await conn.close()
    internal = Viewer(Role.INTERNAL)
    with caplog.at_level(logging.INFO, logger="api.app"), service(db_dsn) as client:
        caches = client.app.state.engine.caches  # type: ignore[attr-defined]
        assert kept(caches, document, "FiveStarDirectory", internal, {}) is not None
        assert kept(caches, taking, "PointsOf", internal, {"district": "310115"}) is None
        response = client.get("/queries/FiveStarDirectory")
    assert response.status_code == 200 and response.headers[HEADER] == "verified"
    lines = {r.getMessage() for r in caplog.records if r.name == "api.app"}
    assert "saved query FiveStarDirectory v1: compiled ahead" in lines
    assert "saved query PointsOf v1: compiles on its first request: it takes variables" in lines
