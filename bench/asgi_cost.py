"""CPU per request of the service's own code: a bench query driven through the ASGI app in
process, without HTTP or sockets, the service on one core and PostgreSQL on the other.

    .venv/bin/python -m bench.asgi_cost [--query Q3] [--requests 2500] [--runs 7] 2>/tmp/lines.log

Through HTTP (``bench/fast_lane_cost.sh``) a known Q3 costs the service about 350 µs of CPU,
of which uvicorn and the kernel's loopback take a part that a change to our code does not
move, and two cores shared by wrk, the service and PostgreSQL make rounds differ by ±15 µs.
Here the app (``api.app.create_app``, logging set up as ``liaison`` sets it, the access lines
on stderr) answers ``--concurrency`` tasks sending the query as the benchmark sends it; this process is pinned to one CPU and PostgreSQL's server and backends to the others,
so runs of the same code agree within a few µs. Each run's CPU per request (this process's
``time.process_time``) is printed, then the median; compare a change against its base by
running both in turn. The demo database (bench/.data/cases-0, made on first use), or
``--dsn``; PostgreSQL is pinned only when it runs on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from typing import Any

import uvloop

from api.app import create_app
from api.logs import configure_logging
from api.settings import Settings

from .benchdb import bench_database
from .peers import LIMITS
from .perf import bench_token
from .queries import Request, build_queries

__all__ = ["main"]

_ENVIRONMENT = {**LIMITS, "LIAISON_EXECUTION": "compiled"}
"""As the benchmark serves our compiled peer: its limits and the single sign-on of its token."""


def _scope(request: Request) -> dict[str, Any]:
    body = request.body or b""
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode(), value.encode()) for name, value in request.headers.items()]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 50000),
        "scheme": "http",
        "method": request.method,
        "root_path": "",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": b"",
        "headers": headers,
        "state": {},
    }


async def _request(app: Any, request: Request) -> None:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.Event().wait()  # no disconnect while the response is written
        sent = True
        return {"type": "http.request", "body": request.body or b"", "more_body": False}

    messages: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(_scope(request), receive, send)
    answer = messages[-1].get("body", b"")
    if messages[0].get("status") != 200 or b'"errors"' in answer:
        raise RuntimeError(f"the query was not answered: {messages[0].get('status')} {answer[:300]!r}")


async def _measure(app: Any, request: Request, args: argparse.Namespace) -> list[float]:
    async def client(requests: int) -> None:
        for _ in range(requests):
            await _request(app, request)

    async with app.router.lifespan_context(app):
        await asyncio.gather(*(client(50) for _ in range(args.concurrency)))  # compiled, then the fast lane
        runs = []
        for _ in range(args.runs):
            started = time.process_time()
            await asyncio.gather(*(client(args.requests // args.concurrency) for _ in range(args.concurrency)))
            runs.append((time.process_time() - started) / (args.requests // args.concurrency * args.concurrency))
        return runs


@contextlib.contextmanager
def _pinned(postmaster: int | None) -> Iterator[str]:
    """This process on its last allowed CPU, PostgreSQL (and the backends it forks from now)
    on the others, for the duration; what was done, in words. Both get their CPUs back
    after: a server given by ``--dsn`` outlives the run, and a benchmark after it found
    every new backend on one CPU."""
    mine = os.sched_getaffinity(0)
    cpus = sorted(mine)
    if len(cpus) < 2:
        yield "not pinned (one CPU)"
        return
    theirs = os.sched_getaffinity(postmaster) if postmaster is not None else None
    os.sched_setaffinity(0, {cpus[-1]})
    try:
        if postmaster is None:
            yield f"this process on CPU {cpus[-1]}; PostgreSQL not on this machine"
        else:
            os.sched_setaffinity(postmaster, set(cpus[:-1]))
            yield f"this process on CPU {cpus[-1]}, PostgreSQL on {','.join(map(str, cpus[:-1]))}"
    finally:
        os.sched_setaffinity(0, mine)
        if postmaster is not None and theirs is not None:  # theirs is known exactly when postmaster is
            with contextlib.suppress(ProcessLookupError):
                os.sched_setaffinity(postmaster, theirs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.asgi_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="use this PostgreSQL (migrated and demo-loaded as needed)")
    parser.add_argument("--query", default="Q3", help="a bench query of bench/queries.py, identical regime")
    parser.add_argument("--requests", type=int, default=2500, help="per run")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    query = next((q for q in build_queries(bench_token(), []) if q.key == args.query), None)
    if query is None:
        parser.error(f"no bench query {args.query}")
    with bench_database(args.dsn, 0, 0) as db, _pinned(db.postmaster_pid) as pinned:
        settings = Settings.from_env({**os.environ, **_ENVIRONMENT, "DATABASE_URL": db.dsn})
        configure_logging(settings.log_format)
        runs = uvloop.run(_measure(create_app(settings), query.ours, args))
    print(f"{args.query}, {args.requests} requests a run at {args.concurrency} at once; {pinned}")
    print("CPU µs per request: " + ", ".join(f"{1e6 * run:.1f}" for run in runs))
    print(f"median {1e6 * statistics.median(runs):.1f} µs")


if __name__ == "__main__":
    main()
