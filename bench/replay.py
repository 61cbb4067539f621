"""A replay of one peer's SQL: the statements it sent for one request, with no HTTP and no GraphQL.

bench/perf.py runs this as its own process (so its CPU is read like a server's):

    .venv/bin/python -m bench.replay JOB.pickle

The job holds the DSN, the statements of one "request" (what a peer sent for one query:
``(protocol, sql, args)``; "simple" ones by the simple query protocol, as BEGIN, COMMIT or a
pool's reset are sent), the concurrency, the duration and a warm-up. The statements go
through the service's own pool (``db.pool.open_database``: its session settings, such as
``jit`` and ``plan_cache_mode``, and its release without a reset round trip), sized to the
concurrency: each of ``concurrency`` workers takes a connection per request, as the service
does, and sends the statements one after the other; a request's latency is the time for all
of them. So the replay of our SQL and the replay of PostGraphile's SQL are measured against
the same ceiling. It prints REPLAY_MEASURING and REPLAY_STOPPED around the measured window
(the parent reads PostgreSQL's CPU there), then one JSON line with its own CPU over the window.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import sys
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from db.pool import open_database

__all__ = ["ReplayJob", "Statement"]


@dataclass(frozen=True)
class Statement:
    protocol: str
    """"extended" (prepared, with parameters) or "simple" (text only)."""
    sql: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class ReplayJob:
    dsn: str
    statements: tuple[Statement, ...]
    concurrency: int
    duration: float
    warmup: float


async def _request(conn: asyncpg.Connection, statements: tuple[Statement, ...]) -> None:
    for s in statements:
        if s.protocol == "simple":
            await conn.execute(s.sql)
        else:
            await conn.fetch(s.sql, *s.args)


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


async def run(job: ReplayJob) -> dict[str, Any]:
    database = await open_database(job.dsn, max_size=job.concurrency, timeout=60)
    latencies: list[float] = []
    errors = 0
    phase = {"measuring": False, "stop": False}

    async def worker() -> None:
        nonlocal errors
        while not phase["stop"]:
            started = time.perf_counter()
            try:
                async with database.connection() as conn:
                    await _request(conn, job.statements)
            except asyncpg.PostgresError:
                errors += 1
                continue
            if phase["measuring"]:
                latencies.append(time.perf_counter() - started)

    tasks = [asyncio.create_task(worker()) for _ in range(job.concurrency)]
    await asyncio.sleep(job.warmup)
    print("REPLAY_MEASURING", flush=True)  # the parent reads PostgreSQL's CPU from here on
    phase["measuring"], began, cpu = True, time.perf_counter(), time.process_time()
    await asyncio.sleep(job.duration)
    phase["measuring"] = False
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    print("REPLAY_STOPPED", flush=True)  # ... to here
    requests = len(latencies)
    phase["stop"] = True
    await asyncio.gather(*tasks)
    await database.close()
    latencies.sort()
    return {
        "requests": requests,
        "duration_us": elapsed * 1e6,
        "p50_us": _percentile(latencies, 50) * 1e6,
        "p99_us": _percentile(latencies, 99) * 1e6,
        "errors": errors,
        "cpu_seconds": cpu,
    }


def main() -> None:
    with open(sys.argv[1], "rb") as f:
        job: ReplayJob = pickle.load(f)  # noqa: S301 (written by bench/perf.py for this process)
    print("REPLAY_JSON " + json.dumps(asyncio.run(run(job))), flush=True)


if __name__ == "__main__":
    main()
