"""The pool's default size: a PostgreSQL on this machine shares our cores, one elsewhere does not."""

from __future__ import annotations

import pytest

from db.pool import REMOTE_POOL_SIZE, pool_size_for

from .support import service

LOCAL = [
    "postgresql://postgres@/postgres?host=/tmp/liaison-pg-x",  # the embedded server's socket
    "postgresql://postgres@/postgres",  # libpq's default socket
    "postgresql://postgres@localhost:5432/postgres",
    "postgresql://postgres@127.0.0.1/postgres",
    "postgresql://postgres@127.0.0.2/postgres",
    "postgresql://postgres@[::1]:5432/postgres",
    "postgresql://postgres@%2Ftmp%2Fliaison-pg-x/postgres",  # a socket directory, percent-encoded
    "postgresql://postgres@localhost:5432,127.0.0.1:5433/postgres",
    "postgresql://postgres@localhost/postgres?host=db.internal",  # the URL's host wins, as in asyncpg
]
REMOTE = [
    "postgresql://postgres@db.internal:5432/postgres",
    "postgresql://postgres@10.0.0.5/postgres",
    "postgresql://postgres@/postgres?host=/tmp/a,db.internal",  # any remote host of several
    "postgresql://postgres@localhost:5432,db.internal:5433/postgres",
    "postgresql://postgres@[::1]:5432,db.internal/postgres",
    "postgresql://postgres@db.internal/postgres?host=/tmp",
]


@pytest.fixture(autouse=True)
def _no_pghost(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGHOST", raising=False)


@pytest.mark.parametrize("dsn", LOCAL)
def test_a_local_server_gets_twice_its_cores_plus_one_shared_by_the_workers(dsn: str) -> None:
    assert pool_size_for(dsn, 1, cores=2) == 5
    assert pool_size_for(dsn, 2, cores=2) == 3
    assert pool_size_for(dsn, 4, cores=2) == 3, "at least 3 each"
    assert pool_size_for(dsn, 1, cores=16) == REMOTE_POOL_SIZE, "never more than a remote server gets"


@pytest.mark.parametrize("dsn", REMOTE)
def test_a_remote_server_gets_the_fixed_size(dsn: str) -> None:
    assert pool_size_for(dsn, 2, cores=2) == REMOTE_POOL_SIZE


def test_pghost_decides_for_a_url_without_a_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGHOST", "db.internal")
    assert pool_size_for("postgresql://postgres@/postgres", 1, cores=2) == REMOTE_POOL_SIZE
    monkeypatch.setenv("PGHOST", "/var/run/postgresql")
    assert pool_size_for("postgresql://postgres@/postgres", 1, cores=2) == 5


def test_the_service_sizes_its_pool_unless_told(db_dsn: str) -> None:
    one, four = pool_size_for(db_dsn, 1), pool_size_for(db_dsn, 4)
    if one == four:
        pytest.skip(f"{one} connections for 1 worker and for 4 at this server: nothing to tell apart")
    with service(db_dsn) as client:
        assert client.app.state.db.size == one  # type: ignore[attr-defined]
    with service(db_dsn, LIAISON_WORKERS="4") as client:
        assert client.app.state.db.size == four  # type: ignore[attr-defined]
    with service(db_dsn, LIAISON_POOL_SIZE="7") as client:
        assert client.app.state.db.size == 7  # type: ignore[attr-defined]
