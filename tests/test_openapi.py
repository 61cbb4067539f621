"""``/queries/openapi.json``: the saved queries as a REST API that REST tooling accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import asyncpg
import jsonschema
from openapi_spec_validator import validate

from db import saved
from resolvers.documents import check_document
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
