"""``/queries/openapi.json``: the saved queries as a REST API that REST tooling accepts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import jsonschema
from graphql import GraphQLError, GraphQLScalarType
from openapi_spec_validator import validate

from api.openapi import openapi_document
from db import saved
from db.saved import SavedOperation
from resolvers.documents import check_document
from resolvers.private_apis import graphql_schema
from schema import schema

from .support import service

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "queries"
FRAGMENTS = """query PointCard($code: String!, $filter: ContactPointFilter) {
  contactPoint(code: $code) { ...Card }
  contactPoints(first: 2, filter: $filter) @include(if: true) { nodes { ...Card } }
}
fragment Card on ContactPoint { code name currentRating { stars } }"""
TWICE = """query Twice($code: String!) {
  contactPoint(code: $code) { code }
  contactPoint(code: $code) { name ... on ContactPoint { code } }
}"""

AMOUNTS = """query Amounts { crossStoreReturns(first: 1) { nodes { amount } } }"""


async def push(dsn: str, documents: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for document in documents:
            name = check_document(document, schema._schema).operation_name
            assert name is not None
            await saved.save(conn, name, document, name, "tests", description=f"{name}, for tests")
    finally:
        await conn.close()


def response_schema(document: dict[str, Any], name: str) -> dict[str, Any]:
    """The 200 JSON schema of a path, with the document's components to resolve its refs."""
    found = document["paths"][f"/queries/{name}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return {**found, "components": document["components"]}


async def test_the_document_validates_and_describes_each_saved_query(db_dsn: str) -> None:
    await push(db_dsn, [*(p.read_text() for p in sorted(EXAMPLES.glob("*.graphql"))), FRAGMENTS, TWICE])
    with service(db_dsn) as client:
        response = client.get("/queries/openapi.json")
        assert response.status_code == 200
        document = response.json()
        validate(document)  # OpenAPI 3.1, as openapi-spec-validator reads it

        report = document["paths"]["/queries/DistrictCaseReport"]
        parameters = {p["name"]: p for p in report["get"]["parameters"]}
        assert parameters["district"] == {
            "name": "district",
            "in": "query",
            "required": True,
            "schema": {"type": "string"},
        }
        assert parameters["from"]["schema"]["format"] == "date-time"
        assert parameters["first"]["required"] is False  # it has a default
        assert {"version", "format"} <= set(parameters)
        body = report["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["required"] == ["district", "from", "before"]

        card = {p["name"]: p for p in document["paths"]["/queries/PointCard"]["get"]["parameters"]}
        assert card["filter"]["content"]["application/json"]["schema"]["anyOf"][0] == {
            "$ref": "#/components/schemas/ContactPointFilter"
        }
        assert "ContactPointFilter" in document["components"]["schemas"]

        # A key selected twice is one property with both selections, required once.
        twice = response_schema(document, "Twice")["properties"]["data"]["properties"]["contactPoint"]
        point = twice["anyOf"][0] if "anyOf" in twice else twice
        assert set(point["properties"]) == {"code", "name"} and point["required"] == ["code", "name"], point

        # What the saved queries answer fits the schemas the document gives for them.
        answers = {
            "DistrictCaseReport": client.get(
                "/queries/DistrictCaseReport",
                params={
                    "district": "310115",
                    "from": "2020-01-01T00:00:00+08:00",
                    "before": "2020-02-01T00:00:00+08:00",
                },
            ),
            "PointCard": client.get("/queries/PointCard", params={"code": "nope"}),
        }
        for name, answer in answers.items():
            assert answer.status_code == 200, answer.text
            jsonschema.validate(answer.json(), response_schema(document, name))
        broken = answers["DistrictCaseReport"].json()
        broken["data"]["cases"]["totalCount"] = "many"
        try:
            jsonschema.validate(broken, response_schema(document, "DistrictCaseReport"))
        except jsonschema.ValidationError:
            pass
        else:
            raise AssertionError("the data schema let a string through as totalCount")


def test_no_saved_queries_is_still_a_document(demo_dsn: str) -> None:
    with service(demo_dsn, role=None) as client:
        document = client.get("/queries/openapi.json").json()
    validate(document)
    assert document["paths"] == {} or all(p.startswith("/queries/") for p in document["paths"])


READ = ["+1.5", ".5", "5.", "-0.00", "1200.50", "007", "-.5", " 7 ", "\t-3.\r\n", "5\n", "+0"]
REFUSED = ["", " ", ".", "+", "-.", "+-1", "1e3", "1E3", "1_000", "1,2", "1.2.3", "NaN", "Infinity", "١٠٠", "５"]
REFUSED += ["\u00a05", "5 5", "¥5", "0x10", "- 5", "5-"]


def test_the_published_decimal_pattern_is_what_the_scalar_reads() -> None:
    """A client that checks its values against the document sends what the API reads: the
    Decimal scalar reads xs:decimal's lexical form, white space around it collapsed."""
    document = openapi_document(
        graphql_schema(schema),
        [SavedOperation("Amounts", 1, AMOUNTS, "0" * 64, "Amounts", "", "tests", datetime.now(UTC), None)],
        "http://test",
    )
    data = response_schema(document, "Amounts")["properties"]["data"]
    amount = data["properties"]["crossStoreReturns"]["properties"]["nodes"]["items"]["properties"]["amount"]
    pattern = amount["pattern"]
    scalar = schema._schema.get_type("Decimal")
    assert isinstance(scalar, GraphQLScalarType)

    def reads(value: str) -> bool:
        try:
            scalar.parse_value(value)
        except GraphQLError:
            return False
        return True

    assert [v for v in READ if not reads(v)] == [] and [v for v in REFUSED if reads(v)] == []
    # jsonschema matches a pattern anywhere in the string, as ECMA-262 does (re.search)
    published = {v: jsonschema.Draft202012Validator(amount).is_valid(v) for v in READ + REFUSED}
    assert published == {v: v in READ for v in READ + REFUSED}, pattern
    assert all(bool(re.search(pattern, v)) == reads(v) for v in READ + REFUSED)


async def test_a_saved_mutation_is_left_out_of_the_document(db_dsn: str) -> None:
    """`/queries/{name}` refuses saved mutations (they run by hash through POST /graphql), so
    the REST document does not describe them; with one saved, the document still answers."""
    mutation = """mutation SettleCase($input: CaseSettleInput!) {
  caseSettle(input: $input) { case { number status } userErrors { code } }
}"""
    await push(db_dsn, [FRAGMENTS, mutation])
    with service(db_dsn) as client:
        response = client.get("/queries/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert "/queries/PointCard" in document["paths"]
    assert "/queries/SettleCase" not in document["paths"]
