"""Saved operations: running a stored document against sending its text, on a live server.

For each saved query of examples/queries/ (pushed with ``liaison queries push``), three
ways of asking for the same thing, against one ``liaison serve`` (one uvicorn worker):

- text: ``POST /graphql {"query": "<document>", "variables": {...}}``
- hash: ``POST /graphql {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": ...}}, "variables": {...}}``
- name: ``GET /queries/<name>?<variable>=<value>``

Every way must answer the same ``data`` before anything is timed. Then, in rounds that
rotate which way goes first, each way runs N sequential requests on one keep-alive
connection and N requests from C concurrent clients; the tables give the median over the
rounds of requests per second, p50 and p99 latency. Beside them, in this process: what
parsing and validating each document costs, and what the service's caches and lookups
cost instead (schema/caches.py, db/saved.py).

    .venv/bin/python bench/saved_queries.py      # a fresh database on the machine's PostgreSQL
    DATABASE_URL=postgresql://… .venv/bin/python bench/saved_queries.py --requests 300 --clients 16 --rounds 3

Without DATABASE_URL it creates ``bench_saved_<pid>`` on
postgresql://postgres@127.0.0.1:5432/postgres (``LIAISON_BENCH_ADMIN_URL`` chooses
another server), loads it with ``liaison demo`` and drops it at the end. DistrictCaseReport
reads cases, so it runs with an ``internal`` API key made for the run and revoked after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import hashlib
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import httpx2

ROOT = Path(__file__).resolve().parent.parent
LIAISON = str(ROOT / ".venv" / "bin" / "liaison")
EXAMPLES = ROOT / "examples" / "queries"
ADMIN_URL = os.environ.get("LIAISON_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVER_ENV = {"LIAISON_BUDGET_POINTS": "1000000000"}  # the rate limit never trips

QUERIES: list[tuple[str, dict[str, Any], bool]] = [
    # (saved name = file name, variables, needs a credential)
    ("DistrictFigures", {"district": "310115"}, False),
    ("FiveStarDirectory", {"first": 50}, False),
    (
        "DistrictCaseReport",
        {"district": "310115", "from": "2019-01-01T00:00:00Z", "before": "2019-02-01T00:00:00Z"},
        True,
    ),
]
WAYS = ("text", "hash", "name")


@dataclass
class Request:
    method: str
    url: str
    body: bytes | None
    headers: dict[str, str]

    @property
    def size(self) -> int:
        """Bytes of the request line's target and body: what differs between the ways."""
        return len(self.url.encode()) + len(self.body or b"")


@dataclass
class Run:
    rps: float
    p50: float
    p99: float
    failed: int
    cpu: float = 0.0
    """Milliseconds of the server process's CPU (user + system) per request."""


@dataclass
class Results:
    runs: dict[tuple[str, str, str], list[Run]] = field(default_factory=dict)
    """(query, mode, way) → one Run per round."""

    def add(self, query: str, mode: str, way: str, run: Run) -> None:
        self.runs.setdefault((query, mode, way), []).append(run)


# --- the requests ---------------------------------------------------------------------------


def requests_for(name: str, variables: dict[str, Any], key: str | None) -> dict[str, Request]:
    document = (EXAMPLES / f"{name}.graphql").read_text()
    sha = hashlib.sha256(document.encode()).hexdigest()
    headers = {"authorization": f"Bearer {key}"} if key else {}
    post = {**headers, "content-type": "application/json", "accept": "application/json"}

    def body(payload: dict[str, Any]) -> bytes:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    persisted = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    return {
        "text": Request("POST", "/graphql", body({"query": document, "variables": variables}), post),
        "hash": Request("POST", "/graphql", body({"extensions": persisted, "variables": variables}), post),
        "name": Request("GET", f"/queries/{name}?{urllib.parse.urlencode(variables)}", None, headers),
    }


async def send(client: httpx2.AsyncClient, request: Request) -> httpx2.Response:
    return await client.request(request.method, request.url, content=request.body, headers=request.headers)


def ok(response: httpx2.Response) -> bool:
    return response.status_code == 200 and b'"errors"' not in response.content


async def same_data(base: str, requests: dict[str, Request]) -> tuple[dict[str, int], int]:
    """Response sizes per way and the data's size; fails unless every way answers the same data."""
    sizes, data = {}, {}
    async with httpx2.AsyncClient(base_url=base, timeout=60) as client:
        for way, request in requests.items():
            response = await send(client, request)
            if response.status_code != 200:
                raise SystemExit(f"{way} {request.method} {request.url}: {response.status_code} {response.text[:500]}")
            answer = response.json()
            if answer.get("errors"):
                raise SystemExit(f"{way} {request.method} {request.url}: errors {answer['errors']}")
            sizes[way], data[way] = len(response.content), answer["data"]
    if any(d != data["text"] for d in data.values()):
        raise SystemExit(f"the ways answer different data: { {w: json.dumps(d)[:200] for w, d in data.items()} }")
    return sizes, len(json.dumps(data["text"], ensure_ascii=False, separators=(",", ":")).encode())


# --- timing ---------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank."""
    return sorted_values[min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))]


def summary(latencies: list[float], elapsed: float, failed: int, cpu: float) -> Run:
    latencies.sort()
    n = len(latencies)
    return Run(n / elapsed, percentile(latencies, 50) * 1e3, percentile(latencies, 99) * 1e3, failed, cpu / n * 1e3)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def sequential(base: str, request: Request, n: int, pid: int) -> Run:
    latencies, failed = [], 0
    async with httpx2.AsyncClient(base_url=base, timeout=60) as client:
        await send(client, request)  # open the connection outside the timing
        cpu, started = cpu_seconds(pid), time.perf_counter()
        for _ in range(n):
            t = time.perf_counter()
            response = await send(client, request)
            latencies.append(time.perf_counter() - t)
            failed += not ok(response)
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
    return summary(latencies, elapsed, failed, cpu)


async def concurrent(base: str, request: Request, n: int, clients: int, pid: int) -> Run:
    latencies: list[float] = []
    failed = 0
    left = n
    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        await asyncio.gather(*(send(client, request) for _ in range(clients)))  # open the connections

        async def worker() -> None:
            nonlocal left, failed
            while left > 0:
                left -= 1
                t = time.perf_counter()
                response = await send(client, request)
                latencies.append(time.perf_counter() - t)
                failed += not ok(response)

        cpu, started = cpu_seconds(pid), time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu
    return summary(latencies, elapsed, failed, cpu)


async def measure(
    base: str, pid: int, all_requests: dict[str, dict[str, Request]], args: argparse.Namespace
) -> Results:
    results = Results()
    for requests in all_requests.values():  # warm up: every cache, every connection
        for request in requests.values():
            await sequential(base, request, args.warmup, pid)
            await concurrent(base, request, args.warmup, args.clients, pid)
    for round_ in range(args.rounds):
        order = WAYS[round_ % len(WAYS) :] + WAYS[: round_ % len(WAYS)]
        print(f"round {round_ + 1} of {args.rounds}: {' '.join(order)}", flush=True)
        for name, requests in all_requests.items():
            for mode in ("sequential", "concurrent"):
                for way in order:
                    if mode == "sequential":
                        run = await sequential(base, requests[way], args.requests, pid)
                    else:
                        run = await concurrent(base, requests[way], args.requests, args.clients, pid)
                    results.add(name, mode, way, run)
                    print(
                        f"  {name:19} {mode:10} {way:4} {run.rps:7.1f} req/s  p50 {run.p50:6.1f} ms"
                        f"  p99 {run.p99:6.1f} ms  server CPU {run.cpu:5.2f} ms/req"
                        + (f"  {run.failed} FAILED" if run.failed else ""),
                        flush=True,
                    )
    return results


# --- in process: parse, validate, and what the service does instead ------------------------


def _saved_lookup(pattern: re.Pattern[str], saved: dict[str, str], sha: str) -> str | None:
    """What the service does with a hash before it finds the saved query."""
    return saved.get(sha) if pattern.fullmatch(sha) else None


def per_call(fn: Callable[[], object], number: int, repeat: int = 7) -> float:
    """Median seconds per call over ``repeat`` batches of ``number`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - started) / number)
    return statistics.median(times)


def parse_validate_costs() -> list[tuple[str, dict[str, float]]]:
    import graphql
    from strawberry.schema.schema import validate_document

    from api.saved_queries import declared_variables
    from schema import schema
    from schema.caches import DocumentCaches, parse_document

    gql = schema._schema
    rules = tuple(graphql.specified_rules)  # what strawberry's execution context passes
    caches = DocumentCaches()  # as the service's engine keeps them (schema.engine)
    validation_key = (id(schema), tuple(id(rule) for rule in rules))
    hash_pattern = re.compile(r"[0-9a-f]{64}")
    found = []
    for name, _, _ in QUERIES:
        text = (EXAMPLES / f"{name}.graphql").read_text()
        sha = hashlib.sha256(text.encode()).hexdigest()
        saved_by_hash = {sha: text}
        document = graphql.parse(text)
        assert not graphql.validate(gql, document), name
        parsed = parse_document(text, 5000)
        caches.parsed.put(parsed, parsed.size, text, 5000)
        caches.validated.put(
            validate_document(gql, parsed.document, rules), 0, validation_key[0], text, validation_key[1]
        )
        found.append(
            (
                name,
                {
                    "parse": per_call(partial(graphql.parse, text), 300),
                    "validate": per_call(partial(graphql.validate, gql, document), 300),
                    "validate, strawberry's rules": per_call(partial(validate_document, gql, document, rules), 300),
                    "parse cache hit": per_call(partial(caches.parsed.get, text, 5000), 20000),
                    "validation cache hit": per_call(
                        partial(caches.validated.get, validation_key[0], text, validation_key[1]), 20000
                    ),
                    "hash check + saved lookup": per_call(
                        partial(_saved_lookup, hash_pattern, saved_by_hash, sha), 20000
                    ),
                    "by name: variables' parse": per_call(partial(declared_variables, text, caches), 300),
                },
            )
        )
    return found


async def find_by_name_cost(dsn: str) -> float:
    """``saved.find``: the SELECT every GET /queries/{name} makes (the hash is looked up once per process)."""
    from db import saved

    conn = await asyncpg.connect(dsn)
    try:
        for _ in range(20):
            await saved.find(conn, "DistrictFigures")
        times = []
        for _ in range(300):
            started = time.perf_counter()
            await saved.find(conn, "DistrictFigures")
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        await conn.close()


# --- the database and the server ----------------------------------------------------------


def liaison(dsn: str, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 (our own CLI, fixed arguments)
        [LIAISON, *args], env={**os.environ, "DATABASE_URL": dsn}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"liaison {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


@contextlib.contextmanager
def database() -> Iterator[tuple[str, str]]:
    """(dsn, how it came): DATABASE_URL as given, or a fresh database dropped at the end."""
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given, "given by DATABASE_URL (left as it was, but for the saved queries pushed)"
        return
    name = f"bench_saved_{os.getpid()}"
    admin = urllib.parse.urlsplit(ADMIN_URL)
    dsn = urllib.parse.urlunsplit(admin._replace(path=f"/{name}"))

    async def admin_sql(sql: str) -> None:
        conn = await asyncpg.connect(ADMIN_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin_sql(f'CREATE DATABASE "{name}"'))
    try:
        started = time.monotonic()
        liaison(dsn, "demo")
        yield (
            dsn,
            f"fresh database {name} on {admin.hostname}:{admin.port}, `liaison demo` in {time.monotonic() - started:.1f}s, dropped after",
        )
    finally:
        asyncio.run(admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(dsn: str, settings: dict[str, str] = SERVER_ENV) -> Iterator[tuple[str, int]]:
    """``liaison serve`` over ``dsn`` with ``settings`` on a free port: its base URL and pid."""
    port = free_port()
    env = {**os.environ, **settings, "DATABASE_URL": dsn, "HOST": "127.0.0.1", "PORT": str(port)}
    with tempfile.NamedTemporaryFile("w+", prefix="bench_saved_serve_", suffix=".log", delete=False) as log:
        process = subprocess.Popen([LIAISON, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"liaison serve exited ({process.returncode}); see {log.name}")
            with contextlib.suppress(httpx2.HTTPError):
                if httpx2.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"liaison serve not ready after 60s; see {log.name}")
            time.sleep(0.2)
        print(f"liaison serve (pid {process.pid}, one uvicorn worker) on {base}; log {log.name}", flush=True)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- report ---------------------------------------------------------------------------------


def machine() -> str:
    model = "?"
    with contextlib.suppress(OSError):
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {memory:.0f} GB, Python {platform.python_version()}"


def report(results: Results, sizes: dict[str, dict[str, Any]], costs: list[tuple[str, dict[str, float]]], find: float):
    print("\n### Request and response sizes (bytes)\n")
    print("| query | text: request | hash: request | name: request | data | /graphql response | /queries response |")
    print("|---|---|---|---|---|---|---|")
    for name, s in sizes.items():
        r = s["request"]
        print(
            f"| {name} | {r['text']:,} | {r['hash']:,} | {r['name']:,} | {s['data']:,}"
            f" | {s['response']['text']:,} | {s['response']['name']:,} |"
        )
    for mode in ("sequential", "concurrent"):
        print(f"\n### {mode}: median of the rounds\n")
        print("req/s, p50 / p99 latency in ms, server CPU in ms per request (the uvicorn process, not PostgreSQL)\n")
        print("| query | text | hash | name | hash vs text | name vs text |")
        print("|---|---|---|---|---|---|")
        for name in sizes:
            runs = {way: results.runs[(name, mode, way)] for way in WAYS}
            med = {
                way: {a: statistics.median(getattr(r, a) for r in rs) for a in ("rps", "p50", "p99", "cpu")}
                for way, rs in runs.items()
            }
            cells = [
                f"{m['rps']:.1f} req/s, {m['p50']:.1f} / {m['p99']:.1f} ms, CPU {m['cpu']:.2f}" for m in med.values()
            ]
            rel = [
                f"{(med[w]['rps'] / med['text']['rps'] - 1) * 100:+.1f} % req/s, CPU {med[w]['cpu'] - med['text']['cpu']:+.2f} ms"
                for w in ("hash", "name")
            ]
            print(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(rel) + " |")
            spread = [f"{min(r.rps for r in rs):.1f}–{max(r.rps for r in rs):.1f}" for rs in runs.values()]
            print("| ↳ req/s, lowest–highest round | " + " | ".join(spread) + " | | |")
            failed = sum(r.failed for rs in runs.values() for r in rs)
            if failed:
                print(f"| ↳ FAILED responses | {failed} | | | | |")
    print("\n### In this process, per call (µs, median of 7 batches)\n")
    names = list(costs[0][1])
    print("| query | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for name, c in costs:
        print(f"| {name} | " + " | ".join(f"{c[k] * 1e6:,.1f}" for k in names) + " |")
    print(f"\n`saved.find` (the SELECT of every GET /queries/{{name}}), from this process: {find * 1e6:,.0f} µs median")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per way, query, mode and round")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients in the concurrent runs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=50, help="requests per way and query before timing")
    args = parser.parse_args()
    started = time.monotonic()
    print(f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {machine()}")
    print(f"command: {' '.join([os.path.relpath(sys.executable), *sys.argv])}")
    print(f"load average at the start: {os.getloadavg()[0]:.1f}, {os.getloadavg()[1]:.1f}, {os.getloadavg()[2]:.1f}")
    print(
        f"{args.requests} requests per way, query, mode and round; {args.clients} concurrent clients;"
        f" {args.rounds} rounds; {args.warmup} warm-up requests"
    )
    costs = parse_validate_costs()
    with database() as (dsn, how):
        print(f"database: {how}")
        print(liaison(dsn, "queries", "push", str(EXAMPLES), "--owner", "bench/saved_queries.py").strip())
        key = liaison(dsn, "key", "create", "--role", "internal", "--label", "bench/saved_queries.py").strip()
        try:
            find = asyncio.run(find_by_name_cost(dsn))
            with server(dsn) as (base, pid):
                all_requests = {
                    name: requests_for(name, variables, key if credential else None)
                    for name, variables, credential in QUERIES
                }
                sizes = {}
                for name, requests in all_requests.items():
                    response_sizes, data_size = asyncio.run(same_data(base, requests))
                    sizes[name] = {
                        "request": {w: r.size for w, r in requests.items()},
                        "response": response_sizes,
                        "data": data_size,
                    }
                    print(f"same data from text, hash and name: {name} ({data_size:,} bytes of data)")
                results = asyncio.run(measure(base, pid, all_requests, args))
        finally:
            liaison(dsn, "key", "revoke", key.split("_")[1])
    report(results, sizes, costs, find)
    print(
        f"\n{time.monotonic() - started:.0f}s in all; load average at the end {os.getloadavg()[0]:.1f}, {os.getloadavg()[1]:.1f}, {os.getloadavg()[2]:.1f}"
    )


if __name__ == "__main__":
    main()
