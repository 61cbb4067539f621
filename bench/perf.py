"""Our service against PostGraphile v5 and the SQL floor, over the same PostgreSQL, on loopback.

    .venv/bin/python -m bench.perf --quick            # a few minutes: 30,000 cases, 1 round
    .venv/bin/python -m bench.perf                    # 10k, 100k, 1M cases; 3 rounds at 1M
    .venv/bin/python -m bench.perf --dsn postgresql://… --out bench/RESULTS.md

What one run does:

1. The database: ``--dsn``, or an embedded PostgreSQL per volume in bench/.data/ (demo data
   plus ``db.volume.add_volume``, then ``VACUUM (FREEZE, ANALYZE)``; reused while its counts
   hold). Full mode measures growth at 10k and 100k cases and everything at 1M.
2. The peers, each its own process: ours-compiled and ours-dataloader (``liaison serve``
   with ``LIAISON_EXECUTION``), PostGraphile v5 (bench/postgraphile/, Node 22 from npm), and
   the SQL floor (bench/floor.py: the statements our service sent, straight through asyncpg).
3. The queries of bench/queries/ (bench/queries.py), checked equal across peers before timing.
4. wrk (bench/wrk.lua) at 16 and 64 connections after a warm-up; peers alternated, the
   first rotating each round. Statements per request come from the server log, in a pass
   of their own.
5. ours-compiled with 1 and 2 uvicorn workers (api/asgi.py).
6. Tables printed and appended to bench/RESULTS.md as a new section.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import functools
import importlib.metadata
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import jwt

from .benchdb import BenchDatabase, bench_database, returns_for
from .capture import LogEntry, ServerLog, compiled_statement, for_replay, is_data
from .check import EXECUTION_HEADER, check_answers
from .floor import Statement
from .load import Run, check_wrk, duration_for, run_floor, run_wrk
from .peers import JWT_ENV, PGL, ROOT, VENV, Peer, node_binary, npm_ci, send, start_ours, start_postgraphile, stop
from .queries import BenchQuery, build_queries, representations
from .report import Results, markdown

log = logging.getLogger("bench")

SAVED = ROOT / "examples" / "queries" / "FiveStarDirectory.graphql"
COUNTED_REQUESTS = 3
"""Requests per peer and query in the statement-counting pass; the first (cold) is not counted."""


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    """Synthetic cases added on top of the demo, ascending; the last gets the full matrix."""
    rounds: int
    base: float
    """Seconds a timed run lasts at least ..."""
    cap: float
    """... and at most (slow peers get longer runs, so that every connection finishes a few)."""
    warmup: float
    concurrency: tuple[int, ...] = (16, 64)
    growth_queries: tuple[str, ...] = ("Q2", "Q3")
    worker_queries: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")
    worker_concurrency: tuple[int, ...] = (16, 64)
    queries: tuple[str, ...] | None = None
    """Only these queries (None: all)."""


FULL = Plan(sizes=(10_000, 100_000, 1_000_000), rounds=3, base=10, cap=60, warmup=5)
QUICK = Plan(
    sizes=(30_000,),
    rounds=1,
    base=2,
    cap=5,
    warmup=1,
    worker_queries=("Q2", "Q3"),
    worker_concurrency=(64,),
)


@dataclass
class Target:
    """Something a timed run is pointed at: a peer for one query, or the floor."""

    name: str
    run: Callable[[int, float], Run]


@dataclass
class Stage:
    """One database size with its peers running."""

    db: BenchDatabase
    queries: list[BenchQuery]
    peers: dict[str, Peer]
    floor: dict[str, tuple[Statement, ...]] = field(default_factory=dict)
    estimate: dict[tuple[str, str], float] = field(default_factory=dict)
    """(query, target) → req/s seen in the warm-up, for run lengths."""

    def targets(self, q: BenchQuery) -> list[Target]:
        pg_pid = self.db.postmaster_pid
        found = []
        for name in ("ours-compiled", "ours-dataloader"):
            peer = self.peers[name]
            found.append(Target(name, functools.partial(run_wrk, peer, q.ours, pg_pid=pg_pid)))
        if q.postgraphile is not None and "postgraphile" in self.peers:
            peer = self.peers["postgraphile"]
            found.append(Target("postgraphile", functools.partial(run_wrk, peer, q.postgraphile, pg_pid=pg_pid)))
        if self.floor.get(q.key):
            statements = self.floor[q.key]
            found.append(Target("sql-floor", lambda c, d: run_floor(self.db.dsn, statements, c, d, pg_pid)))
        return found


# --- set-up: credentials, saved query, peers --------------------------------------------------


def liaison(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn}
    done = subprocess.run([str(VENV / "liaison"), *args], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"liaison {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def bench_token(role: str = "internal", sub: str = "bench/perf.py") -> str:
    """A bearer token for ``role`` (internal: every row, consumers masked) for this run, from
    the single sign-on of ``JWT_ENV``."""
    now = int(time.time())
    claims: dict[str, str | int] = {
        "iss": JWT_ENV["LIAISON_JWT_ISSUER"],
        "aud": JWT_ENV["LIAISON_JWT_AUDIENCE"],
        "sub": sub,
    }
    claims |= {"iat": now, "exp": now + 6 * 3600, "role": role}
    return jwt.encode(claims, JWT_ENV["LIAISON_JWT_SECRET"], algorithm="HS256")


TWO_WORKERS = "ours-compiled-2-workers"


def start_peers(dsn: str, *, workers: bool) -> dict[str, Peer]:
    """All peers at once, so that they run the same code even while the service is being
    edited; with ``workers``, also ours-compiled under two uvicorn workers (idle until used)."""
    peers = {}
    try:
        for execution in ("compiled", "dataloader"):
            peers[f"ours-{execution}"] = start_ours(f"ours-{execution}", dsn, execution)
        peers["postgraphile"] = start_postgraphile(dsn)
        if workers:
            peers[TWO_WORKERS] = start_ours(TWO_WORKERS, dsn, "compiled", workers=2)
    except BaseException:
        for peer in peers.values():
            stop(peer)
        raise
    return peers


# --- before timing: answers, statements ---------------------------------------------------------


def check(stage: Stage, results: Results, keep_going: bool) -> None:
    ours = [stage.peers["ours-compiled"], stage.peers["ours-dataloader"]]
    answers = check_answers(stage.queries, ours, stage.peers.get("postgraphile"))
    results.execution.update(answers.execution)
    results.size.update(answers.size)
    results.verdict.update(answers.verdict)
    for q in stage.queries:
        paths = {p.name: answers.execution[(p.name, q.key)] for p in ours}
        print(f"  {q.label:28} {answers.verdict[q.key]}; path: {paths}", flush=True)
    if answers.problems:
        print("\nMISMATCH REPORT", *answers.problems, sep="\n  ", flush=True)
        if not keep_going:
            raise SystemExit("answers differ (above): nothing timed; --keep-going times them anyway")
        results.problems += [p for p in answers.problems if p not in results.problems]


Window = tuple[str, str, int]
"""(peer, query, request number) of a marker window in the server log."""


async def _logged_requests(stage: Stage) -> dict[Window, list[LogEntry]]:
    """Every peer's requests for every query, each between markers in the server log."""
    assert stage.db.log_file is not None
    async with ServerLog(stage.db.dsn, stage.db.log_file) as server_log:
        for peer in stage.peers.values():
            for q in stage.queries:
                request = q.ours if peer.kind == "ours" else q.postgraphile
                if request is None:
                    continue
                for i in range(COUNTED_REQUESTS):
                    await server_log.mark(f"{peer.name}|{q.key}|{i}")
                    await asyncio.to_thread(send, peer, request)
        await server_log.mark("end")
        windows = server_log.windows()
    found = {}
    for label, entries in windows.items():
        if label != "end":
            peer_name, key, number = label.split("|")
            found[(peer_name, key, int(number))] = entries
    return found


def _per_request(logged: dict[Window, list[LogEntry]]) -> dict[tuple[str, str], tuple[float, float]]:
    """(peer, query) → (data statements, all statements) per request, the cold first request left out."""
    warm: dict[tuple[str, str], list[list[LogEntry]]] = {}
    for (peer_name, key, i), entries in logged.items():
        if i > 0:
            warm.setdefault((peer_name, key), []).append(entries)
    return {
        k: (sum(sum(map(is_data, e)) for e in runs) / len(runs), sum(len(e) for e in runs) / len(runs))
        for k, runs in warm.items()
    }


def capture(stage: Stage, results: Results) -> None:
    """Statements per request for every peer (server log), and the floor's statements."""
    logged: dict[Window, list[LogEntry]] = {}
    if stage.db.log_file is None:
        _note(results, "The server log cannot be read here: statements per request n/a.")
    else:
        try:
            logged = asyncio.run(_logged_requests(stage))
        except asyncpg.PostgresError as exc:
            _note(results, f"Statement capture failed ({type(exc).__name__}: {exc}): statements per request n/a.")
    results.statements.update(_per_request(logged))
    for q in stage.queries:
        compiled = compiled_statement(q.document, q.operation, q.variables)
        if compiled is not None:
            stage.floor[q.key], results.floor_source[q.key] = (compiled,), "resolvers.compiler"
        elif ("ours-compiled", q.key, 1) in logged:
            stage.floor[q.key] = asyncio.run(for_replay(stage.db.dsn, logged[("ours-compiled", q.key, 1)]))
            results.floor_source[q.key] = "log of ours-compiled"
        else:
            _note(results, f"{q.key}: no statements for the SQL floor (no compiler, no server log).")
            continue
        statements = stage.floor[q.key]
        data = sum(1 for s in statements if s.sql.lstrip().lower().startswith(("select", "with")))
        results.statements[("sql-floor", q.key)] = (float(data), float(len(statements)))


def _note(results: Results, text: str) -> None:
    if text not in results.notes:
        results.notes.append(text)


# --- timing -----------------------------------------------------------------------------------


STARTED = time.monotonic()


def _show(label: str, run: Run) -> None:
    print(
        f"{time.monotonic() - STARTED:6.0f}s {label:44} {run.rps:8.1f} req/s  p50 {run.p50_ms:8.1f} ms  p99 {run.p99_ms:8.1f} ms"
        f"  server {run.server_cpu_ms:7.2f} ms/req  PG {run.pg_cpu_ms:6.2f} ms/req  RSS {run.rss_mb:5.0f} MB"
        f"  n={run.requests}" + (f"  {run.errors} FAILED" if run.errors else ""),
        flush=True,
    )


def warm_up(stage: Stage, plan: Plan, queries: list[BenchQuery]) -> None:
    for q in queries:
        for t in stage.targets(q):
            run = t.run(16, plan.warmup)
            stage.estimate[(q.key, t.name)] = run.rps
            _show(f"warm-up {q.key} {t.name}", run)


def _duration(stage: Stage, plan: Plan, key: str, target: str, concurrency: int) -> float:
    return duration_for(stage.estimate.get((key, target), 1.0), concurrency, plan.base, plan.cap)


def main_rounds(stage: Stage, plan: Plan, results: Results) -> None:
    for r in range(plan.rounds):
        print(f"round {r + 1} of {plan.rounds}", flush=True)
        for c in plan.concurrency:
            for q in stage.queries:
                targets = stage.targets(q)
                shift = r % len(targets)
                for t in targets[shift:] + targets[:shift]:
                    run = t.run(c, _duration(stage, plan, q.key, t.name, c))
                    results.add(q.key, c, t.name, run)
                    _show(f"{q.key} c{c} {t.name}", run)


def growth_round(stage: Stage, plan: Plan, results: Results) -> None:
    for q in (q for q in stage.queries if q.key in plan.growth_queries):
        for t in stage.targets(q):
            run = t.run(16, _duration(stage, plan, q.key, t.name, 16))
            results.growth[(stage.db.cases, q.key, t.name)] = run
            _show(f"growth {stage.db.cases:,} cases {q.key} {t.name}", run)


def workers_rounds(stage: Stage, plan: Plan, results: Results, two: Peer) -> None:
    one = stage.peers["ours-compiled"]
    sides = {"1 worker": one, "2 workers": two}
    queries = [q for q in stage.queries if q.key in plan.worker_queries]
    for q in queries:  # warm the new workers (every document parsed, every pool filled), and check
        for _ in range(4):
            response = send(two, q.ours)
        results.execution[(two.name, q.key)] = response.headers.get(EXECUTION_HEADER, "absent")
        if response.json().get("data") != send(one, q.ours).json().get("data"):
            results.problems.append(f"{q.label}: two workers answer other data than one")
    for r in range(plan.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))
        for c in plan.worker_concurrency:
            for q in queries:
                for side in order:
                    d = _duration(stage, plan, q.key, "ours-compiled", c)
                    run = run_wrk(sides[side], q.ours, c, d, stage.db.postmaster_pid)
                    results.workers.setdefault((q.key, c, side), []).append(run)
                    _show(f"workers {q.key} c{c} {side}", run)


# --- one database size ------------------------------------------------------------------------


def measure(db: BenchDatabase, plan: Plan, results: Results, size: int, *, last: bool, keep_going: bool) -> None:
    print(f"\n== {db.cases:,} cases ({db.volume_cases:,} added to the demo)", flush=True)
    if db.volume_cases > size:
        _note(results, f"The database already held {db.volume_cases:,} synthetic cases where {size:,} were asked for.")
    key = bench_token()
    liaison(db.dsn, "queries", "push", str(SAVED), "--owner", "bench/perf.py")
    queries = build_queries(key, asyncio.run(representations(db.dsn)))
    if plan.queries is not None:
        queries = [q for q in queries if q.key in plan.queries]
    results.titles.update({q.key: q.title for q in queries})
    peers = start_peers(db.dsn, workers=last)
    try:
        stage = Stage(db, queries, {k: v for k, v in peers.items() if k != TWO_WORKERS})
        check(stage, results, keep_going)
        capture(stage, results)
        results.growth_volume[db.cases] = db.volume_cases
        if not last:
            growth_queries = [q for q in queries if q.key in plan.growth_queries]
            warm_up(stage, plan, growth_queries)
            growth_round(stage, plan, results)
            return
        warm_up(stage, plan, queries)
        main_rounds(stage, plan, results)
        paths_after(stage, results)
        for (q, c, peer_name), runs in results.runs.items():
            if c == 16 and q in plan.growth_queries:
                results.growth[(db.cases, q, peer_name)] = _median_run(runs)
        workers_rounds(stage, plan, results, peers[TWO_WORKERS])
        results.versions.update(versions(db.dsn))
        results.database = describe(db, results.load_at_start)
    finally:
        for peer in peers.values():
            stop(peer)


def paths_after(stage: Stage, results: Results) -> None:
    """Ask our peers once more: a path that changed during the run (a fallback) is reported."""
    for name in ("ours-compiled", "ours-dataloader"):
        for q in stage.queries:
            now = send(stage.peers[name], q.ours).headers.get(EXECUTION_HEADER, "absent")
            before = results.execution.get((name, q.key))
            if before != now:
                results.execution[(name, q.key)] = f"{before}, later {now}"


def _median_run(runs: list[Run]) -> Run:
    return sorted(runs, key=lambda r: r.rps)[len(runs) // 2]


def describe(db: BenchDatabase, load_at_start: float) -> str:
    where = f"embedded PostgreSQL in {db.server.data_dir.relative_to(ROOT)}" if db.server else "the PostgreSQL of --dsn"
    loaded = f"volume added in {db.load_seconds:.0f} s this run" if db.load_seconds else "reused as loaded before"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())  # fmt: skip
    return (
        f"{os.cpu_count()} cores ({cpu}), load average {load_at_start:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end; everything on loopback. "
        f"Database: {db.cases:,} cases ({db.volume_cases:,} synthetic on top of the demo), {where}, {loaded}."
    )


def versions(dsn: str) -> dict[str, str]:
    async def server_version() -> str:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()

    def npm_version(package: str) -> str:
        path = PGL / "node_modules" / package / "package.json"
        return json.loads(path.read_text())["version"] if path.exists() else "?"

    node = subprocess.run([str(node_binary()), "--version"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split()  # noqa: S607
    return {
        "postgraphile": npm_version("postgraphile"),
        "grafast": npm_version("grafast"),
        "node": node.strip(),
        "PostgreSQL": asyncio.run(server_version()),
        "python": platform.python_version(),
        "strawberry-graphql": importlib.metadata.version("strawberry-graphql"),
        "uvicorn": importlib.metadata.version("uvicorn"),
        "asyncpg": importlib.metadata.version("asyncpg"),
        "wrk": wrk[1] if len(wrk) > 1 else "?",
    }


# --- the whole run ----------------------------------------------------------------------------


NOTES = [
    "Q2 on PostGraphile reads the view contact_point_current_rating (given a primary and a foreign key by "
    "smart tags in bench/postgraphile/server.mjs) ordered by contact point id, which orders as code does in "
    "this data (the check above compares the lists).",
    "Q4 is the part of our district statistics PostGraphile's amber preset can express: contact points in "
    "all and by host kind, as totalCount of filtered connections (nine per district; five-into summed from "
    "five of them). Case statistics need aggregates it does not have: Q4c times ours only.",
    "Q5 (_entities) and Q6 (a saved query by name, GET /queries/FiveStarDirectory?first=50) are ours only.",
    "SQL floor: each worker holds a connection and sends the logged statements of one request one after "
    "the other (parameters as text, cast to the types PostgreSQL infers; writes left out), at the same "
    "concurrency; our service may send some of them concurrently on several pool connections.",
    "PostgreSQL's CPU includes background processes (checkpointer, WAL writer, autovacuum) during the run.",
    "Statements per request are counted from the server log (log_statement = 'all' for an untimed pass, "
    "three requests per peer and query, the first left out): the embedded server's wheel has no "
    "pg_stat_statements.",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one size (30,000 cases), one short round: minutes")
    parser.add_argument("--dsn", help="use this PostgreSQL (migrations, demo and volume are added as needed)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md", help="append the tables here")
    parser.add_argument("--rounds", type=int, help="rounds of the main matrix (default 3; --quick 1)")
    parser.add_argument(
        "--sizes",
        type=lambda text: tuple(int(x) for x in text.split(",")),
        help="cases to add to the demo, ascending, comma-separated; the last gets the full matrix "
        "(default 10000,100000,1000000; --quick 30000)",
    )
    parser.add_argument(
        "--queries",
        type=lambda text: tuple(text.split(",")),
        help="only these queries, comma-separated (Q1,Q2,Q3,Q4,Q4c,Q5,Q6; default all)",
    )
    parser.add_argument("--keep-going", action="store_true", help="time even when answers differ (flagged)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    plan = QUICK if args.quick else FULL
    if args.rounds:
        plan = dataclasses.replace(plan, rounds=args.rounds)
    if args.sizes:
        plan = dataclasses.replace(plan, sizes=args.sizes)
    if args.queries:
        plan = dataclasses.replace(plan, queries=args.queries)
    check_wrk()
    npm_ci()
    started = time.monotonic()
    results = Results(
        mode="quick" if args.quick else "full",
        command=".venv/bin/python -m bench.perf " + shlex.join(sys.argv[1:] if argv is None else argv),
        started=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        notes=list(NOTES),
        load_at_start=os.getloadavg()[0],
    )
    for size in plan.sizes:
        with bench_database(args.dsn, size, returns_for(size)) as db:
            measure(db, plan, results, size, last=size == plan.sizes[-1], keep_going=args.keep_going)
    results.seconds = time.monotonic() - started
    text = markdown(results)
    print("\n" + text)
    with args.out.open("a") as f:
        f.write("\n" + text)
    print(f"appended to {args.out}; {results.seconds / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
