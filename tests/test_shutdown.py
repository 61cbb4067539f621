"""SIGTERM ends `liaison serve` within its grace period, even while a request is stuck.

Orchestrators send SIGTERM and wait a fixed time before SIGKILL. The service must stop
accepting, give in-flight requests ``LIAISON_SHUTDOWN_GRACE`` seconds, then cancel them
(their SQL with them) and exit cleanly, leaving no session behind in PostgreSQL. The slow
request here is slow for real: a lock held on ``region`` by another session blocks its
SELECT inside PostgreSQL (on /graphql, and on /queries/{name} after its lookup), and the request and database timeouts are set far beyond the
grace, so only the grace period can end it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx2
import pytest

from db import saved

from .support import LIAISON, free_port

REGIONS = "{ regions { code name } }"
APP_NAME = "liaison-graph"
GRACE = 2.0
SLACK = 5.0
"""Seconds past the grace the process may take to exit: cancelling, closing the pool."""


@dataclass
class Served:
    process: asyncio.subprocess.Process
    base: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


async def until(
    condition: Callable[[], object], seconds: float, what: str | Callable[[], str], served: Served | None = None
) -> None:
    """Poll ``condition`` (sync or async) until it is true; fail after ``seconds`` saying ``what``."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            message = what() if callable(what) else what
            raise AssertionError(f"{message} within {seconds}s" + (f"\n{served.log()}" if served else ""))
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def serve(dsn: str, tmp_path: Path, **env: str) -> AsyncIterator[Served]:
    """`liaison serve` in a child process over ``dsn``, once /readyz answers 200."""
    port = free_port()
    full_env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LIAISON_DEMO_DATA": "0",
        **env,
    }
    log_path = tmp_path / "serve.log"
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        process = await asyncio.create_subprocess_exec(
            str(LIAISON), "serve", env=full_env, stdout=log, stderr=subprocess.STDOUT
        )
    finally:
        os.close(log)
    served = Served(process, f"http://127.0.0.1:{port}", log_path)
    try:
        async with httpx2.AsyncClient(timeout=5) as client:

            async def ready() -> bool:
                assert process.returncode is None, "the service died:\n" + served.log()
                try:
                    return (await client.get(served.base + "/readyz")).status_code == 200
                except httpx2.TransportError:
                    return False

            await until(ready, 60, "the service did not become ready", served)
        yield served
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def service_backends(conn: asyncpg.Connection, wait_event_type: str | None = None) -> list[asyncpg.Record]:
    """The service's sessions on this database, optionally only those waiting on ``wait_event_type``."""
    return await conn.fetch(
        "SELECT pid, state, wait_event_type, query FROM pg_stat_activity"
        " WHERE datname = current_database() AND application_name = $1"
        " AND ($2::text IS NULL OR wait_event_type = $2)",
        APP_NAME,
        wait_event_type,
    )


@pytest.mark.parametrize("endpoint", ["/graphql", "/queries/RegionNames"])
async def test_sigterm_ends_a_stuck_request_within_the_grace_period(db_dsn: str, tmp_path: Path, endpoint: str) -> None:
    env = {"LIAISON_SHUTDOWN_GRACE": str(GRACE), "LIAISON_REQUEST_TIMEOUT": "120", "LIAISON_DB_TIMEOUT": "120"}
    locker = await asyncpg.connect(db_dsn)
    observer = await asyncpg.connect(db_dsn)
    lock = locker.transaction()
    try:
        await saved.save(locker, "RegionNames", f"query RegionNames {REGIONS}", "RegionNames", "tests")
        async with serve(db_dsn, tmp_path, **env) as served:
            await lock.start()
            await locker.execute("LOCK TABLE region IN ACCESS EXCLUSIVE MODE")

            outcome: dict[str, Any] = {}

            def slow_request() -> None:
                try:
                    body = {"query": REGIONS} if endpoint == "/graphql" else {}  # /queries: its variables
                    response = httpx2.post(served.base + endpoint, json=body, timeout=60)
                    outcome["response"] = (response.status_code, response.text[:300])
                except httpx2.TransportError as exc:
                    outcome["error"] = repr(exc)

            request = threading.Thread(target=slow_request, daemon=True)
            request.start()
            # Really in flight: its SELECT waits on our lock inside PostgreSQL.
            await until(lambda: service_backends(observer, "Lock"), 10, "the request did not block on the lock", served)
            assert request.is_alive() and not outcome

            served.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            try:
                code = await asyncio.wait_for(served.process.wait(), GRACE + SLACK)
            except TimeoutError:
                raise AssertionError(
                    f"still running {GRACE + SLACK}s after SIGTERM (grace {GRACE}s):\n{served.log()}"
                ) from None
            took = time.monotonic() - signalled
            print(f"exited {took:.2f}s after SIGTERM (grace {GRACE}s); request: {outcome}")
            assert code == 0, served.log()
            # It waited for the request (uvicorn gives it the grace), then cancelled it.
            assert took >= GRACE - 0.2, served.log()
            assert "timeout graceful shutdown exceeded" in served.log()

            await until(lambda: not request.is_alive(), 5, "the slow request still hangs")
            # It was answered, not dropped: 503 with its code, ready to be retried.
            assert outcome.get("response", (None,))[0] == 503, outcome
            assert '"code":"SHUTTING_DOWN"' in str(outcome["response"][1]), outcome
            # Its SQL was cancelled too: no session of the service is left, though the lock is still held.
            left: list[asyncpg.Record] = []

            async def none_left() -> bool:
                left[:] = await service_backends(observer)
                return not left

            await until(none_left, 5, lambda: f"sessions of the service outlived it: {left}")
    finally:
        with contextlib.suppress(asyncpg.InterfaceError):
            await lock.rollback()
        await locker.close()
        await observer.close()


async def test_sigterm_when_idle_exits_promptly(db_dsn: str, tmp_path: Path) -> None:
    async with serve(db_dsn, tmp_path, LIAISON_SHUTDOWN_GRACE="10") as served:
        served.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = await asyncio.wait_for(served.process.wait(), 10)
        took = time.monotonic() - signalled
        print(f"idle: exited {took:.2f}s after SIGTERM")
        assert code == 0, served.log()
        assert took < 3, f"took {took:.2f}s with nothing in flight:\n{served.log()}"
