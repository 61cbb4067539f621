"""Every HTTP response carries an X-Request-ID, whatever answered it: GraphQL, the saved
queries' OpenAPI, health, metrics, GraphiQL and its files, and the router's 404 and 405."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import Settings

from .support import JWT_ENV, service

REQUESTS = [
    ("GET", "/graphql", {"Accept": "text/html"}),  # GraphiQL's page
    ("POST", "/graphql", {}),
    ("PUT", "/graphql", {}),  # 405 from the GraphQL view
    ("GET", "/queries/openapi.json", {}),
    ("GET", "/queries/NoSuchQuery", {}),
    ("GET", "/healthz", {}),
    ("DELETE", "/healthz", {}),  # 405 from the router
    ("GET", "/readyz", {}),
    ("GET", "/metrics", {}),
    ("GET", "/no/such/path", {}),  # 404
]


def vendored_file(client: TestClient) -> str:
    """The path of a file GraphiQL's page loads, as the page names it."""
    page = client.get("/graphql", headers={"Accept": "text/html"}).text
    found = re.search(r'src="(graphiql/vendor/[^"]+)"', page)
    assert found is not None, page[:500]
    return "/" + found[1]


@pytest.fixture(scope="module")
def client(demo_dsn: str) -> Iterator[TestClient]:
    with service(demo_dsn) as client:
        yield client


def requests(client: TestClient) -> list[tuple[str, str, dict[str, str]]]:
    return [*REQUESTS, ("GET", vendored_file(client), {})]


def test_every_response_carries_a_request_id(client: TestClient) -> None:
    statuses = set()
    for method, path, headers in requests(client):
        response = client.request(method, path, headers=headers, json={"query": "{ regions { code } }"})
        ids = response.headers.get_list("X-Request-ID")
        assert len(ids) == 1 and re.fullmatch(r"[0-9a-f]{32}", ids[0]), (method, path, response.status_code, ids)
        statuses.add(response.status_code)
    assert {200, 404, 405} <= statuses


def test_a_sane_request_id_is_kept_and_another_replaced(client: TestClient) -> None:
    for method, path, headers in requests(client):
        kept = client.request(method, path, headers={**headers, "X-Request-ID": "dash-7f3a"})
        assert kept.headers.get_list("X-Request-ID") == ["dash-7f3a"], (method, path, kept.status_code)
        replaced = client.request(method, path, headers={**headers, "X-Request-ID": "x" * 65})
        assert re.fullmatch(r"[0-9a-f]{32}", replaced.headers["X-Request-ID"]), (method, path)


async def test_an_unhandled_exception_answers_500_with_a_request_id(demo_dsn: str) -> None:
    """Starlette's error middleware answers it: ``RequestIds`` is outside even that."""
    settings = Settings.from_env({"DATABASE_URL": demo_dsn, **JWT_ENV})
    app = create_app(settings)

    async def broken(request: Request) -> Response:
        raise RuntimeError("a fault nobody planned for")

    app.add_route("/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken", headers={"X-Request-ID": "quote-me"})
    assert response.status_code == 500
    assert response.headers.get_list("X-Request-ID") == ["quote-me"]


def test_a_websocket_handshake_carries_the_request_id(client: TestClient) -> None:
    """A subscription's connection is quotable too: its accept names the id its logs use."""
    protocol = ["graphql-transport-ws"]
    with client.websocket_connect("/graphql", subprotocols=protocol, headers={"X-Request-ID": "dash-ws-1"}) as ws:
        kept: dict[bytes, bytes] = dict(ws.extra_headers or [])
    with client.websocket_connect("/graphql", subprotocols=protocol) as ws:
        made: dict[bytes, bytes] = dict(ws.extra_headers or [])
    assert kept.get(b"x-request-id") == b"dash-ws-1", kept
    assert re.fullmatch(rb"[0-9a-f]{32}", made.get(b"x-request-id", b"")), made
