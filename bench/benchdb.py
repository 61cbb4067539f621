"""The benchmark's database: the DSN given, or an embedded cluster per volume, cached.

An embedded cluster lives in ``bench/.data/cases-<N>/`` (N = synthetic cases added on top
of the demo). ``cases-<N>.ready.json`` beside it says what was loaded and vacuumed; a second
run that finds those counts in the database reuses it as it is. With ``--dsn`` the database is brought
up to the wanted volume by adding what is missing (growth then loads incrementally).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from api.startup import prepare_database
from db.embedded import EmbeddedPostgres
from db.volume import add_volume

__all__ = ["BenchDatabase", "bench_database", "returns_for"]

log = logging.getLogger("bench")

DATA = Path(__file__).absolute().parent / ".data"
VOLUME_CASES = """SELECT count(*) FROM "case" WHERE number ~ '-[0-9]{7}$'"""
VOLUME_RETURNS = """SELECT count(*) FROM cross_store_return WHERE code ~ '-[0-9]{7}$'"""
ALL_CASES = 'SELECT count(*) FROM "case"'


def returns_for(cases: int) -> int:
    """Cross-store returns loaded with ``cases`` cases: one for ten (100,000 at the million)."""
    return cases // 10


@dataclass
class BenchDatabase:
    dsn: str
    server: EmbeddedPostgres | None
    """The embedded cluster this run started, if any."""
    log_file: Path | None
    """Where the server writes its log (statement capture reads it), if this process can read it."""
    postmaster_pid: int | None
    """For PostgreSQL's CPU: the postmaster and its children, when the server is on this machine."""
    cases: int
    """Every case in the database (demo and volume)."""
    volume_cases: int
    load_seconds: float
    """Time spent adding volume (and the demo) this run; 0 when there was nothing to add."""


async def _counts(dsn: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return (
            await conn.fetchval(VOLUME_CASES),
            await conn.fetchval(VOLUME_RETURNS),
            await conn.fetchval(ALL_CASES),
        )
    finally:
        await conn.close()


async def _vacuum(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("VACUUM (FREEZE, ANALYZE)")
    finally:
        await conn.close()


async def postmaster_pid_of(dsn: str) -> int | None:
    """The parent of one of our backends, if /proc shows it (the server is local)."""
    conn = await asyncpg.connect(dsn)
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        parent = _parent_of(backend)  # while the backend lives
    finally:
        await conn.close()
    return parent


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


async def _log_file(dsn: str) -> Path | None:
    conn = await asyncpg.connect(dsn)
    try:
        found = await conn.fetchval("SELECT pg_current_logfile()")
        data_dir = await conn.fetchval("SELECT current_setting('data_directory')")
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    # Without the logging collector: the server's stderr, which db/embedded.py sends to server.log.
    return _readable(Path(data_dir), found or "server.log")


def _readable(data_dir: Path, log_file: str) -> Path | None:
    path = Path(log_file) if os.path.isabs(log_file) else data_dir / log_file
    return path if os.access(path, os.R_OK) else None


async def _load(dsn: str, cases: int, returns: int) -> float:
    """Bring the database to ``cases`` volume cases and ``returns`` returns; seconds spent."""
    started = time.monotonic()
    await prepare_database(dsn, demo=True)
    have_cases, have_returns, _ = await _counts(dsn)
    add_cases, add_returns = max(cases - have_cases, 0), max(returns - have_returns, 0)
    if add_cases or add_returns:
        log.info(
            "adding %s cases and %s returns (the database holds %s and %s)",
            add_cases,
            add_returns,
            have_cases,
            have_returns,
        )
        await add_volume(dsn, cases=add_cases, returns=add_returns, seed=1)
        log.info("VACUUM (FREEZE, ANALYZE)")
        await _vacuum(dsn)
    return time.monotonic() - started


@contextlib.contextmanager
def bench_database(dsn: str | None, cases: int, returns: int) -> Iterator[BenchDatabase]:
    """The database at ``cases`` volume cases, for the duration; an embedded one is stopped after."""
    if dsn is not None:
        seconds = asyncio.run(_load(dsn, cases, returns))
        yield _describe(dsn, None, None, seconds)
        return
    data_dir = DATA / f"cases-{cases}"
    ready = data_dir.with_suffix(".ready.json")
    server = EmbeddedPostgres(data_dir)
    dsn = server.start(timeout=120)
    try:
        seconds = 0.0
        wanted = {"volume_cases": cases, "volume_returns": returns}
        found = asyncio.run(_counts(dsn)) if ready.exists() else None
        if found is None or json.loads(ready.read_text()) != wanted or list(found[:2]) != [cases, returns]:
            ready.unlink(missing_ok=True)
            seconds = asyncio.run(_load(dsn, cases, returns))
            ready.write_text(json.dumps(wanted))
        else:
            log.info("reusing %s: %s volume cases, %s returns, vacuumed", data_dir, cases, returns)
        yield _describe(dsn, server, data_dir / "server.log", seconds)
    finally:
        server.stop()


def _describe(dsn: str, server: EmbeddedPostgres | None, log_file: Path | None, seconds: float) -> BenchDatabase:
    volume_cases, _, all_cases = asyncio.run(_counts(dsn))
    if log_file is None:
        log_file = asyncio.run(_log_file(dsn))
    pid = server.pid if server is not None else asyncio.run(postmaster_pid_of(dsn))
    return BenchDatabase(dsn, server, log_file, pid, all_cases, volume_cases, seconds)
