"""HTTP caching of GET /graphql: Cache-Control from the fields' cache hints, ETag and 304."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from graphql import parse
from graphql.utilities import get_operation_ast
from starlette.testclient import TestClient

from schema import schema
from schema.cost import measure

from .support import bearer, service

REGIONS = "{ regions { code name } }"
POINTS = "{ contactPoints(first: 2) { totalCount nodes { code name } } }"
STATS = "{ regions { code } networkStats { contactPoints { total } } }"


@pytest.fixture(scope="module")
def anonymous(demo_dsn: str) -> Iterator[TestClient]:
    with service(demo_dsn, role=None) as client:
        yield client


def _get(client: TestClient, query: str, **headers: str):
    return client.get("/graphql", params={"query": query}, headers={"Accept": "application/json", **headers})


@pytest.mark.parametrize(
    ("query", "control"),
    [
        (REGIONS, "public, max-age=3600"),  # reference data
        (POINTS, "public, max-age=300"),  # the connection's root field; its nodes the same
        (STATS, "public, max-age=60"),  # the least of the fields selected: Stats
        ("{ __typename }", "no-store"),  # no field with a hint
        ('{ region(code: "310000") { name districts { code } } }', "public, max-age=3600"),
    ],
)
def test_max_age_is_the_least_of_the_fields_hints(anonymous: TestClient, query: str, control: str) -> None:
    response = _get(anonymous, query)
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    assert response.headers["cache-control"] == control


def test_etag_and_not_modified(anonymous: TestClient) -> None:
    first = _get(anonymous, REGIONS)
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and first.headers["vary"].startswith("Accept, Authorization")
    again = _get(anonymous, REGIONS, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == "public, max-age=3600"
    # The budget left in extensions.cost changed between the two; the data did not.
    assert (
        first.json()["extensions"]["cost"]["budget"] != _get(anonymous, REGIONS).json()["extensions"]["cost"]["budget"]
    )
    other = _get(anonymous, POINTS, **{"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_a_credential_is_private_and_not_stored(anonymous: TestClient) -> None:
    first = _get(anonymous, REGIONS, **bearer("internal"))
    assert first.headers["cache-control"] == "private, no-store"
    again = _get(anonymous, REGIONS, **{"If-None-Match": first.headers["etag"]}, **bearer("internal"))
    assert again.status_code == 304 and again.headers["cache-control"] == "private, no-store"


def test_errors_mutations_and_posts_are_not_stored(anonymous: TestClient) -> None:
    unknown = _get(anonymous, "{ regions { nope } }")
    assert unknown.headers["cache-control"] == "no-store" and "etag" not in unknown.headers
    forbidden = _get(anonymous, "{ cases(first: 1) { totalCount } }")
    assert forbidden.json().get("errors") and forbidden.headers["cache-control"] == "no-store"
    mutation = 'mutation { caseAddNote(input: {number: "C310115-2020-000001", note: "x"}) { case { number } } }'
    by_get = _get(anonymous, mutation)
    assert by_get.status_code == 405 and by_get.headers["cache-control"] == "no-store"
    by_post = anonymous.post("/graphql", json={"query": mutation})
    assert by_post.headers["cache-control"] == "no-store" and "etag" not in by_post.headers
    posted = anonymous.post("/graphql", json={"query": REGIONS})
    assert "errors" not in posted.json() and posted.headers["cache-control"] == "no-store"


def test_the_hints_are_in_the_schema() -> None:
    sdl = schema.as_str()
    assert "directive @cacheControl(maxAge: Int, scope: CacheControlScope, inheritMaxAge: Boolean)" in sdl
    assert '@key(fields: "id") @cacheControl(maxAge: 3600) {' in sdl  # Region
    assert "type Stats @cacheControl(maxAge: 60) {" in sdl
    assert "type PageInfo @cost(weight: 0) @shareable @cacheControl(inheritMaxAge: true) {" in sdl
    assert "@cacheControl(maxAge: 0, scope: PRIVATE) {" in sdl  # Case


def test_mutations_allow_no_age() -> None:
    document = parse('mutation { caseAddNote(input: {number: "C310115-2020-000001", note: "x"}) { case { number } } }')
    operation = get_operation_ast(document)
    assert operation is not None
    found = measure(schema._schema, document, operation, None)
    assert (found.max_age, found.private) == (0, True)
