"""Helpers the tests share: database names and DSNs on the test server."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx2
import jwt
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.testclient import TestClient, WebSocketTestSession

from api.app import create_app
from api.settings import Settings
from schema.compiled import HEADER

_counter = itertools.count()

SERVED: Counter[str] = Counter()
"""Operations served per path by every ``service`` of the session (the suite's summary)."""

JWT_ENV = {
    "LIAISON_JWT_ISSUER": "https://sso.test.example",
    "LIAISON_JWT_AUDIENCE": "liaison-graph",
    "LIAISON_JWT_SECRET": "a test secret of at least thirty-two characters",
}
"""The single sign-on the tests' service trusts: tokens for any role come from ``token``."""


def token(role: str, *, sub: str = "test-user", lifetime: int = 300, **claims: Any) -> str:
    """A bearer token the test service accepts, for ``role`` with extra ``claims``."""
    now = int(time.time())
    payload = {
        "iss": JWT_ENV["LIAISON_JWT_ISSUER"],
        "aud": JWT_ENV["LIAISON_JWT_AUDIENCE"],
        "sub": sub,
        "iat": now,
        "exp": now + lifetime,
        "role": role,
        **claims,
    }
    return jwt.encode(payload, JWT_ENV["LIAISON_JWT_SECRET"], algorithm="HS256")


def bearer(role: str, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(role, **claims)}"}


def dsn_with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


def unique_name(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{next(_counter)}"


async def create_database(admin_dsn: str, name: str, template: str | None = None) -> str:
    conn = await asyncpg.connect(admin_dsn)
    try:
        clause = f' TEMPLATE "{template}"' if template else " TEMPLATE template0 ENCODING 'UTF8'"
        await conn.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await conn.close()
    return dsn_with_database(admin_dsn, name)


async def drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@contextlib.contextmanager
def service(dsn: str, role: str | None = "internal", **env: str) -> Iterator[TestClient]:
    """The app over ``dsn``, running its lifespan, as a test client.

    Its requests carry a token for ``role`` (internal: every row, consumers' data
    masked) unless a request says otherwise; ``role=None`` calls anonymously.
    """
    settings = Settings.from_env(
        {"DATABASE_URL": dsn, "LIAISON_DB_TIMEOUT": "5", "LIAISON_EXECUTION": "verify", **JWT_ENV, **env}
    )
    with TestClient(create_app(settings), headers=bearer(role) if role else None) as client:
        client.event_hooks = {"response": [_same_on_both_paths]}
        try:
            yield client
        finally:
            SERVED.update(client.app.state.engine.served)  # type: ignore[attr-defined]


def _same_on_both_paths(response: httpx2.Response) -> None:
    """In verify mode every compiled answer is checked against the generic path's."""
    assert response.headers.get(HEADER) != "mismatch", "the compiled path answered otherwise: see the log"


def gql(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    """POST a query; return the response body."""
    response = client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    return response.json()


def data(client: TestClient, query: str, **variables: Any) -> dict[str, Any]:
    """POST a query that must succeed; return its data."""
    body = gql(client, query, **variables)
    assert "errors" not in body, body["errors"]
    return body["data"]


def app_state(client: TestClient | WebSocketTestSession) -> State:
    """The state of the app under ``client`` (``client.app`` is typed as any ASGI app)."""
    assert isinstance(client.app, Starlette)
    return client.app.state


def post(
    client: TestClient, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> tuple[str, int, dict[str, Any]]:
    """POST a query that must succeed: the path that served it, the statements it cost, its data."""
    db = app_state(client).db
    before = db.statements
    response = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body["errors"]
    return response.headers[HEADER], db.statements - before, body["data"]


def compiled_and_verified(dsn: str, query: str, **variables: Any) -> dict[str, Any]:
    """The data of a query that must compile to one statement, and that verify mode, which
    runs both paths and compares them byte for byte, must answer the same."""
    with service(dsn, LIAISON_EXECUTION="compiled") as compiled:
        served, statements, found = post(compiled, query, **variables)
    assert (served, statements) == ("compiled", 1)
    with service(dsn) as verified:
        response = verified.post("/graphql", json={"query": query, "variables": variables})
    assert response.headers[HEADER] == "verified"
    assert response.json()["data"] == found
    return found


LIAISON = Path(sys.executable).with_name("liaison")


def npm_ci(project: Path) -> None:
    """Install an npm project's dependencies as its package-lock.json pins them, once per lockfile.

    A stamp in node_modules holds the lockfile's hash, as scripts/venv.sh does for .venv: the
    second run of the suite in CI, and every local re-run, keep the tree `npm ci` wrote
    instead of deleting and rewriting it, the slowest step of the tests that use it.
    """
    stamp = project / "node_modules" / ".installed-lock-sha256"
    lock = hashlib.sha256((project / "package-lock.json").read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == lock:
        return
    npm = shutil.which("npm")
    assert npm is not None
    # --prefer-offline: the npm cache, when it has these exact versions, spares the registry.
    install = subprocess.run(
        [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, f"npm ci failed in {project}:\n{install.stdout}{install.stderr}"
    stamp.write_text(lock)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def live_service(dsn: str, log_dir: Path, **env: str) -> Iterator[str]:
    """`liaison serve` in a child process over ``dsn``; yields its base URL, then SIGTERMs it."""
    port = free_port()
    env = {
        **os.environ,
        **JWT_ENV,
        "DATABASE_URL": dsn,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LIAISON_DEMO_DATA": "0",
        **env,
    }
    log_path = log_dir / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([str(LIAISON), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()[-3000:]
            try:
                if httpx2.get(base + "/readyz").status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not become ready:\n" + log_path.read_text()[-3000:]
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def postgres_pids(data_dir: Path) -> list[int]:
    """Live (not zombie) postmasters of ``data_dir`` (its backends rename themselves, so are not listed)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and cmdline[0].endswith(b"/postgres") and str(data_dir).encode() in cmdline:
            pids.append(int(proc.name))
    return pids


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def postmaster_file(data_dir: Path) -> tuple[int, Path]:
    """The PID and socket directory a server wrote in its ``postmaster.pid``."""
    lines = (data_dir / "postmaster.pid").read_text().splitlines()
    return int(lines[0]), Path(lines[4])


def is_zombie(pid: int) -> bool:
    """Whether ``pid`` exited and nobody reaped it."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False
