"""The database goes away under a running service, then comes back.

This test runs its own embedded server (whatever TEST_DATABASE_URL says), since it
crashes and freezes it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from db.embedded import EmbeddedPostgres

BOUND = 2.0  # LIAISON_DB_TIMEOUT for this test
QUERY = {"query": "{ regions { code districts { code } } }"}


@pytest.fixture
def client(server: EmbeddedPostgres) -> Iterator[TestClient]:
    settings = Settings.from_env({"DATABASE_URL": server.dsn, "LIAISON_DB_TIMEOUT": str(BOUND)})
    with TestClient(create_app(settings)) as client:
        yield client


def timed_query(client: TestClient) -> tuple[float, dict]:
    started = time.monotonic()
    body = client.post("/graphql", json=QUERY).json()
    return time.monotonic() - started, body


def assert_unavailable(client: TestClient) -> None:
    elapsed, body = timed_query(client)
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["DATABASE_UNAVAILABLE"]
    assert "unavailable" in body["errors"][0]["message"]
    assert elapsed < BOUND + 1.5, f"took {elapsed:.1f}s, bound is {BOUND}s"
    assert client.get("/readyz").status_code == 503


def assert_serving(client: TestClient) -> None:
    deadline = time.monotonic() + 10
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the service did not recover"
        time.sleep(0.2)
    _, body = timed_query(client)
    assert "errors" not in body and len(body["data"]["regions"]) == 4


def test_crashed_database_fails_fast_and_recovers(server: EmbeddedPostgres, client: TestClient) -> None:
    assert_serving(client)
    server.kill()
    assert_unavailable(client)
    assert client.get("/healthz").status_code == 200
    server.start()
    assert_serving(client)


def server_processes(postmaster: int) -> list[int]:
    """The postmaster and its children (backends each run in a session of their own)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            children.append(int(stat.parent.name))
    return [postmaster, *children]


@contextlib.contextmanager
def frozen(server: EmbeddedPostgres) -> Iterator[None]:
    """The server stopped (SIGSTOP): nothing answers, nothing refuses: only the bound ends a wait."""
    assert server.pid is not None
    processes = server_processes(server.pid)
    for pid in processes:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in processes:
            os.kill(pid, signal.SIGCONT)


def test_frozen_database_fails_within_the_bound_and_recovers(server: EmbeddedPostgres, client: TestClient) -> None:
    assert_serving(client)
    with frozen(server):
        assert_unavailable(client)
    assert_serving(client)


def test_a_frozen_database_under_load_is_an_outage_not_overload(server: EmbeddedPostgres) -> None:
    """More requests than connections: those that wait for a connection held by a statement
    the frozen database never answers report the database, not a busy service."""
    env = {"DATABASE_URL": server.dsn, "LIAISON_DB_TIMEOUT": str(BOUND), "LIAISON_POOL_SIZE": "1"}
    with TestClient(create_app(Settings.from_env(env))) as client:
        assert_serving(client)
        with frozen(server), ThreadPoolExecutor(3) as pool:
            bodies = list(pool.map(lambda _: client.post("/graphql", json=QUERY).json(), range(3)))
        assert [[e["extensions"]["code"] for e in body["errors"]] for body in bodies] == [["DATABASE_UNAVAILABLE"]] * 3
        assert_serving(client)
