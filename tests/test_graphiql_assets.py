"""GraphiQL's vendored files: versioned URLs cached for a year, sent gzipped to a browser
that accepts it, and still the bytes the page's ``integrity`` attributes pin."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from .support import service

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.fixture(scope="module")
def client(demo_dsn: str) -> Iterator[TestClient]:
    with service(demo_dsn) as client:
        yield client


def assets(client: TestClient) -> dict[str, str]:
    """Each file the page loads, by URL path: its SHA-384 integrity."""
    page = client.get("/graphql", headers={"Accept": "text/html"}).text
    found = dict(re.findall(r'(?:src|href)="(graphiql/[^"]+)"\s+integrity="([^"]+)"', page))
    assert len(found) == 6, page[:2000]
    return {"/" + url: integrity for url, integrity in found.items()}


def sha384(body: bytes) -> str:
    return "sha384-" + base64.b64encode(hashlib.sha384(body).digest()).decode()


def test_the_files_urls_name_their_version(client: TestClient) -> None:
    versions = {url.rsplit("/", 2)[1] for url in assets(client)}
    assert len(versions) == 1 and re.fullmatch(r"[0-9a-f]{16}", versions.pop())
    for url in assets(client):
        unversioned = re.sub(r"/[0-9a-f]{16}/", "/", url)
        assert client.get(unversioned).status_code == 404
        assert client.get(re.sub(r"/[0-9a-f]{16}/", "/0123456789abcdef/", url)).status_code == 404


def test_files_are_cached_for_a_year_and_gzipped(client: TestClient) -> None:
    for url, integrity in assets(client).items():
        plain = client.get(url, headers={"Accept-Encoding": "identity"})
        assert plain.status_code == 200 and "content-encoding" not in plain.headers, url
        assert plain.headers["cache-control"] == IMMUTABLE, url
        assert sha384(plain.content) == integrity, url

        gzipped = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
        assert gzipped.headers["content-encoding"] == "gzip", url
        assert gzipped.headers["cache-control"] == IMMUTABLE, url
        assert gzipped.headers["content-type"] == plain.headers["content-type"], url
        assert "accept-encoding" in gzipped.headers["vary"].lower(), url
        assert "accept-encoding" in plain.headers["vary"].lower(), url
        assert gzipped.headers["etag"] != plain.headers["etag"], url  # two representations
        assert sha384(gzipped.content) == integrity, url  # decoded by the client: the same bytes
        assert gzipped.num_bytes_downloaded < len(plain.content) * 0.7, url

        again = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": gzipped.headers["etag"]})
        assert again.status_code == 304 and again.headers["cache-control"] == IMMUTABLE, url


def test_a_client_refusing_gzip_gets_the_file_as_is(client: TestClient) -> None:
    url = next(u for u in assets(client) if u.endswith("graphiql.min.js"))
    refused = client.get(url, headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "content-encoding" not in refused.headers
    assert len(refused.content) == int(refused.headers["content-length"]) > 3_000_000
