"""A real PostgreSQL for every test: the embedded one, or ``TEST_DATABASE_URL``.

The migrated (and demo-loaded) schema is built once into a template database; each test
that writes gets its own copy from it, which takes milliseconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from db.demo import load_demo
from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from db.volume import add_volume

from .support import create_database, drop_database, postgres_pids, unique_name


@pytest.fixture(scope="session")
def admin_dsn() -> Iterator[str]:
    """A superuser DSN on the server the tests use."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    directory = Path(tempfile.mkdtemp(prefix="liaison-test-"))
    directory.chmod(0o711)  # the server's own user (when we are root) must pass through
    server = EmbeddedPostgres(directory / "pg")
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
async def template_db(admin_dsn: str) -> AsyncIterator[str]:
    """The name of a database holding the migrated schema and the demo data."""
    name = unique_name("liaison_template")
    dsn = await create_database(admin_dsn, name)
    try:
        await migrate(dsn)
        conn = await asyncpg.connect(dsn)
        try:
            await load_demo(conn)
            await conn.execute("VACUUM (FREEZE, ANALYZE)")
        finally:
            await conn.close()
        yield name
    finally:
        await drop_database(admin_dsn, name)


@pytest.fixture(scope="session")
async def demo_dsn(admin_dsn: str, template_db: str) -> AsyncIterator[str]:
    """One shared copy of the template for tests that only read."""
    name = unique_name("liaison_demo")
    dsn = await create_database(admin_dsn, name, template=template_db)
    try:
        yield dsn
    finally:
        await drop_database(admin_dsn, name)


@pytest.fixture
async def db_dsn(admin_dsn: str, template_db: str) -> AsyncIterator[str]:
    """A private copy of the template, dropped after the test."""
    name = unique_name("liaison_t")
    dsn = await create_database(admin_dsn, name, template=template_db)
    try:
        yield dsn
    finally:
        await drop_database(admin_dsn, name)


@pytest.fixture
async def conn(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a private copy of the template (``db_dsn``)."""
    connection = await asyncpg.connect(db_dsn)
    try:
        yield connection
    finally:
        await connection.close()


@pytest.fixture(scope="session")
async def volume_dsn(admin_dsn: str, template_db: str) -> AsyncIterator[str]:
    """The demo plus 30,000 more cases: three-quarters as many again."""
    name = unique_name("liaison_volume")
    dsn = await create_database(admin_dsn, name, template=template_db)
    await add_volume(dsn, cases=30_000, returns=500, seed=7)
    try:
        yield dsn
    finally:
        await drop_database(admin_dsn, name)


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A data directory for an embedded server of the test's own; no server outlives the test."""
    directory = Path(tempfile.mkdtemp(prefix="liaison-cli-"))
    directory.chmod(0o711)
    yield directory / "pg"
    for pid in postgres_pids(directory / "pg"):
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def server() -> Iterator[EmbeddedPostgres]:
    """An embedded server of the test's own, whatever TEST_DATABASE_URL says: for tests that
    crash or freeze it."""
    directory = Path(tempfile.mkdtemp(prefix="liaison-fault-"))
    directory.chmod(0o711)
    server = EmbeddedPostgres(directory / "pg")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
async def empty_dsn(admin_dsn: str) -> AsyncIterator[str]:
    """An empty database: no migrations applied."""
    name = unique_name("liaison_empty")
    dsn = await create_database(admin_dsn, name)
    try:
        yield dsn
    finally:
        await drop_database(admin_dsn, name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many of the suite's operations the compiler served, and checked against the generic path."""
    from .support import SERVED

    counts = ", ".join(f"{path} {SERVED[path]}" for path in ("verified", "compiled", "dataloader", "mismatch"))
    terminalreporter.write_line(f"operations by execution path: {counts}")
