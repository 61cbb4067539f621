"""/graphql speaks GraphQL over HTTP: graphql-http's audits against the live service, then
the rules they check (and a few more of the spec's) one by one through the test client.

The audits run in Node (tests/http_audit, versions pinned by its package-lock.json); the
test is skipped only where node or npm is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from starlette.testclient import TestClient

from api.media import GRAPHQL_RESPONSE, JSON, response_media_type
from api.settings import Settings

from .support import live_service, npm_ci, service

AUDIT = Path(__file__).resolve().parent / "http_audit"


@pytest.fixture
def live_url(db_dsn: str, tmp_path: Path) -> Iterator[str]:
    """`liaison serve` in a child process over a copy of the demo database."""
    with live_service(db_dsn, tmp_path) as base:
        yield base + "/graphql"


NODE, NPM = shutil.which("node"), shutil.which("npm")


@pytest.mark.skipif(
    NODE is None or NPM is None, reason="node and npm are needed to run graphql-http's audits (tests/http_audit)"
)
def test_graphql_http_server_audits(live_url: str) -> None:
    assert NODE is not None and NPM is not None
    npm_ci(AUDIT)
    run = subprocess.run(
        [NODE, "audit.mjs", live_url], cwd=AUDIT, capture_output=True, text=True, timeout=120, check=False
    )
    results = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
    assert run.returncode in (0, 1), run.stdout + run.stderr
    assert len(results) > 50, run.stdout + run.stderr
    print("graphql-http audits:", Counter(r["status"] for r in results))  # shown with -s or -rP
    failed = [r for r in results if r["status"] != "ok"]
    assert not failed, "\n".join(
        f"{r['status']} {r['id']} {r['name']}: {r['reason']} (got {r['responseStatus']}: {r['responseBody'][:300]})"
        for r in failed
    )
    assert run.returncode == 0, run.stderr


# The same rules, one by one, through the test client.

ORIGIN = "https://app.example.org"
REGIONS = "{ regions { code name } }"


@pytest.fixture(scope="module")
def client(demo_dsn: str) -> Iterator[TestClient]:
    with service(demo_dsn, LIAISON_CORS_ORIGINS=f"{ORIGIN}, http://localhost:5173/") as client:
        yield client


def post(client: TestClient, body: object, accept: str = JSON) -> httpx2.Response:
    return client.post("/graphql", json=body, headers={"Accept": accept})


def test_a_query_by_get(client: TestClient) -> None:
    response = client.get("/graphql", params={"query": REGIONS}, headers={"Accept": JSON})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json()["data"]["regions"][0] == {"code": "310000", "name": "上海市"}

    query = "query ($code: String!) { region(code: $code) { name } }"
    response = client.get("/graphql", params={"query": query, "variables": '{"code":"320000"}'})
    assert response.json()["data"] == {"region": {"name": "江苏省"}}


def test_a_mutation_by_get_is_refused(client: TestClient) -> None:
    # No mutation exists yet: the operation type alone decides, before validation.
    response = client.get("/graphql", params={"query": "mutation { __typename }"}, headers={"Accept": JSON})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_other_methods_are_refused_with_allow(client: TestClient) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        response = client.request(method, "/graphql", json={"query": REGIONS})
        assert response.status_code == 405, method
        assert response.headers["allow"] == "GET, POST"


def test_graphql_response_json_when_asked_for(client: TestClient) -> None:
    accept = f"{GRAPHQL_RESPONSE}, {JSON};q=0.9"
    response = post(client, {"query": REGIONS}, accept)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert "上海市".encode() in response.content


REQUEST_ERRORS = {
    "does not parse": {"query": "{ regions {"},
    "does not validate": {"query": "{ regions { nope } }"},
    "unknown variable type": {"query": "query ($n: Nope) { regions { code } }", "variables": {"n": 1}},
    "variable does not coerce": {
        "query": "query ($n: Int!) { contactPoints(first: $n) { totalCount } }",
        "variables": {"n": "ten"},
    },
    "required variable missing": {"query": "query ($n: Int!) { contactPoints(first: $n) { totalCount } }"},
    # Not the first of them: the spec asks for operationName (GraphQL, 6.1 GetOperation).
    "several operations, none named": {"query": "query A { regions { code } } query B { regions { name } }"},
}


@pytest.mark.parametrize("body", REQUEST_ERRORS.values(), ids=REQUEST_ERRORS.keys())
def test_a_request_error_by_media_type(client: TestClient, body: dict) -> None:
    # Nothing was executed: no data entry; 400 under graphql-response+json, 200 under json.
    response = post(client, body, GRAPHQL_RESPONSE)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/graphql-response+json; charset=utf-8"
    assert "data" not in response.json() and response.json()["errors"]

    response = post(client, body, JSON)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert "data" not in response.json() and response.json()["errors"]


def test_a_mutation_beside_a_query_runs_only_when_named(db_dsn: str) -> None:
    """Strawberry would run a document's first operation when none is named: a note added."""
    note = 'mutation B { caseAddNote(input: {number: "C310115-2020-000001", expectedVersion: 1, note: "x"}) { userErrors { code } } }'
    with service(db_dsn, role="admin") as client:
        response = post(client, {"query": f"{note} query A {{ __typename }}"})
        assert response.status_code == 200 and "data" not in response.json(), response.json()
        [error] = response.json()["errors"]
        assert error["message"] == "Must provide operation name if query contains multiple operations."
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        history = client.post("/graphql", json={"query": '{ case(number: "C310115-2020-000001") { version } }'})
        assert history.json()["data"]["case"]["version"] == 1


def test_a_field_error_is_not_a_request_error(client: TestClient) -> None:
    # Executed, with an error in a field: the data entry is there, so 200 for both types.
    response = post(client, {"query": "{ contactPoints(first: 101) { totalCount } }"}, GRAPHQL_RESPONSE)
    assert response.status_code == 200
    body = response.json()
    assert "data" in body and body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert body["errors"][0]["path"] == ["contactPoints"]


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/graphql"]
)
def test_a_body_not_json_is_unsupported_media(client: TestClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/graphql", content=json.dumps({"query": REGIONS}), headers=headers)
    assert response.status_code == 415


def test_json_with_a_charset_is_json(client: TestClient) -> None:
    response = client.post(
        "/graphql", content=json.dumps({"query": REGIONS}), headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200 and "errors" not in response.json()


def test_a_missing_query_is_a_bad_request(client: TestClient) -> None:
    assert post(client, {"variables": {}}).status_code == 400
    assert post(client, {"query": None}, GRAPHQL_RESPONSE).status_code == 400
    assert client.get("/graphql", headers={"Accept": JSON}).status_code == 400
    assert client.post("/graphql", content="{ nope", headers={"Content-Type": JSON}).status_code == 400


def test_nothing_acceptable_is_not_acceptable(client: TestClient) -> None:
    assert post(client, {"query": REGIONS}, "text/plain").status_code == 406
    assert post(client, {"query": REGIONS}, f"{JSON};q=0, {GRAPHQL_RESPONSE};q=0").status_code == 406
    # GraphiQL still opens in a browser.
    assert client.get("/graphql", headers={"Accept": "text/html"}).status_code == 200


def preflight(client: TestClient, origin: str) -> httpx2.Response:
    return client.options(
        "/graphql",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def cors_headers(response: httpx2.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def test_cors_for_an_allowed_origin(client: TestClient) -> None:
    for origin in (ORIGIN, "http://localhost:5173"):
        response = preflight(client, origin)
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == origin
        assert {"GET", "POST"} <= set(response.headers["access-control-allow-methods"].split(", "))
        assert "content-type" in response.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in response.headers

    response = client.post("/graphql", json={"query": REGIONS}, headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "Origin" in response.headers["vary"]


def test_cors_lets_a_page_send_a_credential_and_read_the_headers(client: TestClient) -> None:
    """A dashboard calls with a key or token and an idempotency key, and reads the request
    id, the budget and the execution path back; the preflight is cached by the browser."""
    asked = "authorization, content-type, idempotency-key, x-request-id, traceparent"
    response = client.options(
        "/graphql",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": asked},
    )
    assert response.status_code == 200, response.text
    allowed = {h.strip() for h in response.headers["access-control-allow-headers"].lower().split(",")}
    assert set(asked.split(", ")) <= allowed
    assert int(response.headers["access-control-max-age"]) >= 600

    response = client.post("/graphql", json={"query": REGIONS}, headers={"Origin": ORIGIN})
    exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
    assert {
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-used",
        "x-ratelimit-reset",
        "retry-after",
        "etag",
        "x-liaison-execution",
    } <= exposed


def test_no_cors_for_another_origin(client: TestClient) -> None:
    response = preflight(client, "https://evil.example")
    assert response.status_code == 400
    assert cors_headers(response) == {}
    response = client.post("/graphql", json={"query": REGIONS}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 200 and cors_headers(response) == {}


def test_no_cors_unless_configured(demo_dsn: str) -> None:
    with service(demo_dsn) as client:
        assert cors_headers(preflight(client, ORIGIN)) == {}
        response = client.post("/graphql", json={"query": REGIONS}, headers={"Origin": ORIGIN})
        assert response.status_code == 200 and cors_headers(response) == {}


def test_cors_origins_setting() -> None:
    def origins(value: str) -> tuple[str, ...]:
        return Settings.from_env({"LIAISON_CORS_ORIGINS": value}).cors_origins

    assert Settings.from_env({}).cors_origins == ()
    assert origins(" https://App.example.org/ ,, http://localhost:5173") == (ORIGIN, "http://localhost:5173")
    assert origins("*") == ("*",)
    for bad in ("app.example.org", "https://app.example.org/graphql", "ftp://app.example.org"):
        with pytest.raises(ValueError, match="LIAISON_CORS_ORIGINS"):
            origins(bad)


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        (JSON, JSON),
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, {JSON};q=0.9", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE}, {JSON}", GRAPHQL_RESPONSE),
        (f"{JSON}, {GRAPHQL_RESPONSE};q=0.5", JSON),
        (f"{GRAPHQL_RESPONSE};q=0.5, */*", JSON),
        (f"{JSON};q=0, */*", GRAPHQL_RESPONSE),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),  # a browser
        ("text/html", None),
        (f"{JSON};q=0", None),
    ],
)
def test_response_media_type(accept: str | None, media_type: str | None) -> None:
    assert response_media_type(accept) == media_type


def test_json_nested_too_deeply_is_said_alike_by_get_and_post(client: TestClient) -> None:
    """Valid JSON the decoder will not descend into is not 'not JSON': POST says what GET says."""
    nested = "[" * 3000 + "]" * 3000
    by_post = client.post(
        "/graphql",
        content='{"query": "{ __typename }", "variables": {"x": ' + nested + "}}",
        headers={"Content-Type": "application/json"},
    )
    by_get = client.get("/graphql", params={"query": "{ __typename }", "variables": '{"x": ' + nested + "}"})
    said = [(r.status_code, r.json()["errors"][0]["message"]) for r in (by_post, by_get)]
    assert said == [(400, "The request's JSON is nested too deeply.")] * 2


@pytest.mark.parametrize("name", ["variables", "extensions"])
def test_a_get_parameter_not_json_is_named(client: TestClient, name: str) -> None:
    """A GET's `variables` or `extensions` that is not JSON is said to be that parameter, not a body."""
    response = client.get("/graphql", params={"query": "{ __typename }", name: "{bad"})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["message"] == f"The `{name}` query parameter must be JSON."


@pytest.mark.parametrize("document_id", ["sha256:00", "sha256:" + "A" * 64, "md5:" + "0" * 64, ""])
def test_a_malformed_document_id_is_named(client: TestClient, document_id: str) -> None:
    """A malformed `documentId` is refused in the words of the field the client sent."""
    response = client.post("/graphql", json={"documentId": document_id})
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["message"] == "`documentId` must be `sha256:` followed by 64 lowercase hex digits."
