"""The SQL floor: one query's statements run straight through asyncpg, no HTTP, no GraphQL.

bench/perf.py runs this as its own process (so its CPU is read like a server's):

    .venv/bin/python -m bench.floor JOB.pickle

The job holds the DSN, the statements of one "request" (what our service sent for one
query: ``(protocol, sql, args)``, "simple" ones by the simple query protocol as asyncpg's
pool sends its reset), the concurrency, the duration and a warm-up. Each of ``concurrency``
workers holds one connection and runs the statements one after the other, again and
again; a request's latency is the time for all of them. It prints FLOOR_MEASURING and
FLOOR_STOPPED around the measured window (the parent reads PostgreSQL's CPU there), then
one JSON line with its own CPU over the window.
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

__all__ = ["FloorJob", "Statement"]


@dataclass(frozen=True)
class Statement:
    protocol: str
    """"extended" (prepared, with parameters) or "simple" (text only)."""
    sql: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class FloorJob:
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


async def run(job: FloorJob) -> dict[str, Any]:
    connections = [
        await asyncpg.connect(job.dsn, server_settings={"application_name": "sql-floor", "timezone": "UTC"})
        for _ in range(job.concurrency)
    ]
    latencies: list[float] = []
    errors = 0
    phase = {"measuring": False, "stop": False}

    async def worker(conn: asyncpg.Connection) -> None:
        nonlocal errors
        while not phase["stop"]:
            started = time.perf_counter()
            try:
                await _request(conn, job.statements)
            except asyncpg.PostgresError:
                errors += 1
                continue
            if phase["measuring"]:
                latencies.append(time.perf_counter() - started)

    tasks = [asyncio.create_task(worker(c)) for c in connections]
    await asyncio.sleep(job.warmup)
    print("FLOOR_MEASURING", flush=True)  # the parent reads PostgreSQL's CPU from here on
    phase["measuring"], began, cpu = True, time.perf_counter(), time.process_time()
    await asyncio.sleep(job.duration)
    phase["measuring"] = False
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    print("FLOOR_STOPPED", flush=True)  # ... to here
    requests = len(latencies)
    phase["stop"] = True
    await asyncio.gather(*tasks)
    for conn in connections:
        await conn.close()
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
        job: FloorJob = pickle.load(f)  # noqa: S301 (written by bench/perf.py for this process)
    print("FLOOR_JSON " + json.dumps(asyncio.run(run(job))), flush=True)


if __name__ == "__main__":
    main()
