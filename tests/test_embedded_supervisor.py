"""A crashed embedded PostgreSQL is brought back, and a stale postmaster.pid is read for what it is.

Each test runs a server of its own on a scratch data directory (whatever TEST_DATABASE_URL
says), since it kills it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from db.embedded import EmbeddedPostgres
from db.supervisor import Supervisor

from .support import is_zombie, postgres_pids, wait_until

QUERY = {"query": "{ regions { code } }"}


def answers(dsn: str) -> bool:
    """Whether a new connection to ``dsn`` runs a statement."""

    async def probe() -> bool:
        conn = await asyncpg.connect(dsn, timeout=5)
        try:
            return await conn.fetchval("SELECT 1") == 1
        finally:
            await conn.close()

    try:
        return asyncio.run(probe())
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return False


def socket_dir(dsn: str) -> Path:
    return Path(dsn.split("host=", 1)[1])


def restarted(supervisor: Supervisor, killed: int) -> bool:
    return supervisor.watching not in (None, killed)


def test_a_killed_postmaster_is_reaped_and_started_again_where_it_listened(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir)
    dsn = server.start()
    try:
        with Supervisor(server) as supervisor:
            killed = server.pid
            assert killed is not None
            wait_until(lambda: supervisor.watching == killed, 10, "the supervisor does not watch the server")
            os.kill(killed, signal.SIGKILL)
            wait_until(lambda: restarted(supervisor, killed), 30, "no new postmaster")
            assert not is_zombie(killed)
            assert server.owned and server.dsn == dsn
            assert answers(dsn)
            assert postgres_pids(data_dir) == [supervisor.watching]
    finally:
        server.stop()
    assert postgres_pids(data_dir) == []
    assert not socket_dir(dsn).exists()


@contextlib.contextmanager
def stale_holder(kind: str) -> Iterator[int]:
    """A PID that a killed postmaster's file may name by now: gone, a zombie, or another program."""
    if kind == "this test process":
        yield os.getpid()
        return
    child = subprocess.Popen(["true"])
    if kind == "reaped":
        child.wait()
    else:
        wait_until(lambda: is_zombie(child.pid), 10, "no zombie")
    try:
        yield child.pid
    finally:
        child.wait()


@pytest.mark.parametrize("kind", ["reaped", "zombie", "this test process"])
def test_a_stale_postmaster_pid_is_not_a_running_server(data_dir: Path, kind: str) -> None:
    first = EmbeddedPostgres(data_dir)
    first.start()
    pid_file = data_dir / "postmaster.pid"
    rest = pid_file.read_text().split("\n", 1)[1]
    first.kill()  # a crash of server and service: the next start must recover, so "ready" comes late
    dead_socket_dir = socket_dir(first.dsn)
    with stale_holder(kind) as stale:
        pid_file.write_text(f"{stale}\n{rest}")  # what a SIGKILL leaves: still "ready"
        os.chown(pid_file, data_dir.stat().st_uid, data_dir.stat().st_gid)
        server = EmbeddedPostgres(data_dir)
        assert server.pid is None
        dsn = server.start()
        try:
            assert server.owned and server.pid not in (None, stale)
            assert answers(dsn)
            assert not dead_socket_dir.exists()
        finally:
            server.stop()
    assert postgres_pids(data_dir) == []


def test_an_attached_process_starts_a_killed_server_again(data_dir: Path) -> None:
    first = EmbeddedPostgres(data_dir)
    dsn = first.start()
    second = EmbeddedPostgres(data_dir)
    try:
        assert second.start() == dsn and not second.owned
        with Supervisor(second) as supervisor:
            killed = first.pid
            assert killed is not None
            os.kill(killed, signal.SIGKILL)  # the first process does not watch: its child stays a zombie
            wait_until(lambda: restarted(supervisor, killed), 30, "the attached process did not restart it")
            assert second.owned and second.dsn == dsn
            assert answers(dsn)
    finally:
        second.stop()
        first.stop()
    assert postgres_pids(data_dir) == []
    assert not socket_dir(dsn).exists()


def test_two_watchers_start_one_server(data_dir: Path) -> None:
    first = EmbeddedPostgres(data_dir)
    dsn = first.start()
    second = EmbeddedPostgres(data_dir)
    second.start()
    try:
        with Supervisor(first) as one, Supervisor(second) as two:
            killed = first.pid
            assert killed is not None
            os.kill(killed, signal.SIGKILL)
            wait_until(lambda: restarted(one, killed) and one.watching == two.watching, 30, "not one new server")
            assert postgres_pids(data_dir) == [one.watching]
            assert [first.owned, second.owned].count(True) == 1
            assert answers(dsn)
    finally:
        second.stop()
        first.stop()
    assert postgres_pids(data_dir) == []


def test_a_crashed_owner_that_attaches_to_the_next_server_no_longer_owns_one(data_dir: Path) -> None:
    """The owner's supervisor may look before the killed postmaster is a zombie (a SIGKILL
    lands asynchronously), so the dead child is still its own when another process has
    started the next server: attaching to that one must drop it, or both would stop it."""
    first = EmbeddedPostgres(data_dir)
    first.start()
    second = EmbeddedPostgres(data_dir)
    try:
        killed = first.pid
        assert killed is not None
        os.kill(killed, signal.SIGKILL)  # not reaped: first still holds its Popen
        wait_until(lambda: first.pid is None, 30, "the postmaster outlived SIGKILL")
        second.start()  # finds the directory free and starts the next server
        first.start()  # attaches to second's
        assert (first.owned, second.owned) == (False, True)
        assert not is_zombie(killed)
    finally:
        first.stop()
        second.stop()
    assert postgres_pids(data_dir) == []


def test_stop_after_a_crash_leaves_nothing_in_tmp(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir)
    dsn = server.start()
    server.kill()
    server.stop()
    assert not socket_dir(dsn).exists()


def test_requests_during_a_crash_are_answered_with_a_code_and_the_service_recovers(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir)
    dsn = server.start()
    settings = Settings.from_env({"DATABASE_URL": dsn, "LIAISON_DB_TIMEOUT": "2", "LIAISON_DEMO_DATA": "0"})
    try:
        with Supervisor(server) as supervisor, TestClient(create_app(settings)) as client:
            assert client.get("/readyz").status_code == 200
            with server.exclusive():  # no process may start the server: the outage lasts until released
                killed = server.pid
                assert killed is not None
                os.kill(killed, signal.SIGKILL)
                wait_until(lambda: supervisor.watching is None, 30, "the crash went unnoticed")
                for _ in range(5):
                    response = client.post("/graphql", json=QUERY)
                    assert response.status_code in (200, 503)
                    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["DATABASE_UNAVAILABLE"]
                assert client.get("/readyz").status_code == 503
            wait_until(lambda: client.get("/readyz").status_code == 200, 30, "the service did not recover")
            for _ in range(5):
                response = client.post("/graphql", json=QUERY)
                assert "errors" not in response.json() and len(response.json()["data"]["regions"]) == 4
    finally:
        server.stop()
    assert postgres_pids(data_dir) == []
