"""Our service against PostGraphile v5 and against replays of both peers' SQL, over one PostgreSQL.

    .venv/bin/python -m bench.perf --smoke          # minutes: demo data, 1 round, short runs
    .venv/bin/python -m bench.perf                  # the benchmark (bench/README.md: hours)
    .venv/bin/python -m bench.perf --dsn postgresql://… --out bench/RESULTS.md

What one run does:

1. The database: ``--dsn``, or an embedded PostgreSQL in bench/.data/cases-<N> (demo data
   plus ``db.volume.add_volume`` of N cases, then ``VACUUM (FREEZE, ANALYZE)``; reused
   while its counts hold).
2. For each process count (``--workers``, default 1 and 2), the peers with that many
   processes each: ours-compiled and ours-dataloader (``liaison serve --workers N`` with
   ``LIAISON_EXECUTION``), and ours-unkept (compiled with ``LIAISON_ANSWERS_MIB=0``: statistics
   that ours-compiled serves from kept answers, Q4's, run their statement every time), PostGraphile v5 under ``node:cluster`` (bench/postgraphile/),
   the Ariadne DataLoader peer (bench/ariadne/) and join-monster 4 under ``node:cluster``
   (bench/joinmonster/), the last two answering our documents. Every peer gets the same bearer token from one issuer: ours verifies it, PostGraphile
   verifies it and passes its claims as ``pgSettings`` (a transaction with ``set_config``
   per request, as a PostGraphile deployment with JWTs does). PostGraphile's pool takes our
   pool's session settings (``jit = off``, ``plan_cache_mode = force_generic_plan``);
   ``--postgraphile-defaults`` adds a PostGraphile on PostgreSQL's defaults beside it.
3. The queries of bench/queries/, checked equal across peers before timing; in the varied
   regime also a sample of the variants (bench/varied.py).
4. Statements per request from the server log (an untimed pass), which also gives the
   replays their SQL: ``replay-ours`` (what ours-compiled sends) and ``replay-postgraphile``
   (what PostGraphile sends), through the service's own pool (bench/replay.py).
5. Rounds (``--rounds``, default 5): per concurrency and query, each regime (identical,
   varied) in turn, every target once, the first rotating each round; a cell's two regimes
   run back to back, so that the machine's drift during a run falls on both alike. wrk (bench/wrk.lua, optionally pinned
   with ``--wrk-cpus``) checks one body in ``--check-every`` during timing; a failure counts.
   CPU per request from /proc: the peer's process tree and PostgreSQL's.
6. Tables printed and appended to ``--out`` as a new section, with the load average at the
   start and end of each part.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime
import importlib.metadata
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import asyncpg
import jwt

from db.pool import pool_size_for

from .benchdb import BenchDatabase, bench_database, returns_for
from .capture import LogEntry, ServerLog, compiled_statement, for_replay, is_data, reads_data
from .check import EXECUTION_HEADER, check_answers
from .load import Run, check_wrk, duration_for, run_replay, run_wrk
from .peers import (
    JOINMONSTER,
    JWT_ENV,
    PGL,
    ROOT,
    Peer,
    node_binary,
    npm_ci,
    send,
    start_ariadne,
    start_joinmonster,
    start_ours,
    start_postgraphile,
    stop,
)
from .procs import autogroups
from .queries import BenchQuery, build_queries, representations
from .replay import Statement
from .report import Results, markdown
from .varied import Variant, draw, write_bodies

log = logging.getLogger("bench")

SAVED = ROOT / "examples" / "queries" / "FiveStarDirectory.graphql"
COUNTED_REQUESTS = 3
"""Requests per peer and query in the statement-counting pass; the first (cold) is not counted."""
CHECKED_VARIANTS = 5
"""Variants per query whose answers are compared across peers before timing."""
REGIMES = ("identical", "varied")
HTTP_PEERS = (
    "ours-compiled",
    "ours-unkept",
    "ours-dataloader",
    "postgraphile",
    "postgraphile-defaults",
    "ariadne-dataloader",
    "joinmonster",
)
ALIKE = ("ariadne", "joinmonster")
"""Kinds of peer that answer our documents (compared with ours normalised, bench/check.py)."""
REPLAYS = {"replay-ours": "ours-compiled", "replay-postgraphile": "postgraphile"}
"""Each replay and the peer whose SQL it sends."""


@dataclass(frozen=True)
class Plan:
    size: int
    """Synthetic cases added on top of the demo."""
    rounds: int
    base: float
    """Seconds a timed run lasts at least ..."""
    cap: float
    """... and at most (slow peers get longer runs, so that every connection finishes a few)."""
    warmup: float
    concurrency: tuple[int, ...] = (16, 64)
    workers: tuple[int, ...] = (1, 2)
    regimes: tuple[str, ...] = REGIMES
    queries: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")
    peers: tuple[str, ...] = (
        "ours-compiled",
        "ours-unkept",
        "ours-dataloader",
        "postgraphile",
        "ariadne-dataloader",
        "joinmonster",
        "replay-ours",
        "replay-postgraphile",
    )
    wrk_cpus: str | None = None
    node_flags: tuple[str, ...] = ()
    check_every: int = 10
    pool_size: int | None = None
    """Connections per process in every peer's pool (None: each peer's default: 10 for the
    others, ours sized for the PostgreSQL beside it, ``db.pool.pool_size_for``)."""


FULL = Plan(size=1_000_000, rounds=5, base=10, cap=60, warmup=10)
"""A 10 s warm-up per target: a fresh PostGraphile ran Q3 at a quarter to a half of its rate ten
seconds later (2026-12-04, a loaded machine)."""
SMOKE = Plan(size=0, rounds=1, base=2, cap=4, warmup=1, concurrency=(16,))


@dataclass
class Target:
    """Something a timed run is pointed at: a peer for one query and regime, or a replay."""

    name: str
    run: Callable[[int, float], Run]


@dataclass
class Stage:
    """One process count with its peers running."""

    db: BenchDatabase
    plan: Plan
    workers: int
    queries: list[BenchQuery]
    peers: dict[str, Peer]
    replays: dict[tuple[str, str], tuple[Statement, ...]]
    """(replay, query) → the statements of one request."""
    bodies: dict[tuple[str, str], Path] = field(default_factory=dict)
    """(query, "ours" | "postgraphile") → the varied regime's bodies, one a line."""
    estimate: dict[tuple[str, str, str], float] = field(default_factory=dict)
    """(regime, query, target) → req/s seen in the warm-up, for run lengths."""

    def targets(self, q: BenchQuery, regime: str) -> list[Target]:
        pg_pid, plan = self.db.postmaster_pid, self.plan
        found = []
        for name, peer in self.peers.items():
            side = "postgraphile" if peer.kind == "postgraphile" else "ours"  # ALIKE peers answer our documents
            request = q.ours if side == "ours" else q.postgraphile
            if request is None:
                continue
            bodies = None
            if regime == "varied":
                bodies = self.bodies.get((q.key, side))
                if bodies is None:
                    continue
            run = partial(run_wrk, peer, request, pg_pid=pg_pid, bodies=bodies, cpus=plan.wrk_cpus)
            found.append(Target(name, partial(run, check_every=plan.check_every)))
        if regime == "identical":
            for replay in REPLAYS:
                statements = self.replays.get((replay, q.key))
                if replay in plan.peers and statements:
                    found.append(Target(replay, partial(_replay_run, self.db.dsn, statements, pg_pid=pg_pid)))
        return found


def _replay_run(
    dsn: str, statements: tuple[Statement, ...], clients: int, seconds: float, *, pg_pid: int | None
) -> Run:
    return run_replay(dsn, statements, clients, seconds, pg_pid)


# --- set-up: credentials, saved query, peers --------------------------------------------------


def liaison(dsn: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn}
    venv = Path(sys.executable).parent
    done = subprocess.run([str(venv / "liaison"), *args], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise SystemExit(f"liaison {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def bench_token(role: str = "internal", sub: str = "bench/perf.py") -> str:
    """A bearer token for ``role`` (internal: every row, consumers masked) for this run, from
    the single sign-on of ``JWT_ENV``; PostGraphile verifies the same token."""
    now = int(time.time())
    claims: dict[str, str | int] = {"iss": JWT_ENV["LIAISON_JWT_ISSUER"], "aud": JWT_ENV["LIAISON_JWT_AUDIENCE"]}
    claims["sub"] = sub
    claims |= {"iat": now, "exp": now + 12 * 3600, "role": role}
    return jwt.encode(claims, JWT_ENV["LIAISON_JWT_SECRET"], algorithm="HS256")


def start_peers(dsn: str, plan: Plan, workers: int, token: str) -> dict[str, Peer]:
    """The HTTP peers of ``plan`` at once, each with ``workers`` processes."""
    peers: dict[str, Peer] = {}
    pool = plan.pool_size
    try:
        for execution in ("compiled", "dataloader"):
            name = f"ours-{execution}"
            if name in plan.peers or (name == "ours-compiled" and "replay-ours" in plan.peers):
                peers[name] = start_ours(name, dsn, execution, workers, pool_size=pool)
        if "ours-unkept" in plan.peers:  # compiled, keeping no answer: every request runs its statement
            peers["ours-unkept"] = start_ours(
                "ours-unkept", dsn, "compiled", workers, env={"LIAISON_ANSWERS_MIB": "0"}, pool_size=pool
            )
        if "postgraphile" in plan.peers or "replay-postgraphile" in plan.peers:
            peers["postgraphile"] = start_postgraphile(
                dsn, token, workers=workers, node_flags=plan.node_flags, pool_size=pool
            )
        if "postgraphile-defaults" in plan.peers:
            peers["postgraphile-defaults"] = start_postgraphile(
                dsn,
                token,
                name="postgraphile-defaults",
                workers=workers,
                session="",
                node_flags=plan.node_flags,
                pool_size=pool,
            )
        if "ariadne-dataloader" in plan.peers:
            peers["ariadne-dataloader"] = start_ariadne(dsn, token, workers=workers, pool_size=pool)
        if "joinmonster" in plan.peers:
            peers["joinmonster"] = start_joinmonster(dsn, token, workers=workers, pool_size=pool)
    except BaseException:
        for peer in peers.values():
            stop(peer)
        raise
    return peers


# --- before timing: answers, statements ---------------------------------------------------------


def check(stage: Stage, results: Results, variants: dict[str, list[Variant]], keep_going: bool) -> None:
    ours = [p for p in stage.peers.values() if p.kind == "ours"]
    pg = stage.peers.get("postgraphile")
    sampled = [
        dataclasses.replace(q, key=f"{q.key} variant {i}", ours=q.ours_with(v.ours),
                            postgraphile=q.postgraphile_with(v.postgraphile) if v.postgraphile is not None else None)
        for q in stage.queries
        for i, v in enumerate(variants.get(q.key, [])[:: max(1, len(variants.get(q.key, [])) // CHECKED_VARIANTS)])
    ]  # fmt: skip
    alike = [p for p in stage.peers.values() if p.kind in ALIKE]
    answers = check_answers(stage.queries + sampled, ours, pg, alike)
    for (peer, key), path in answers.execution.items():
        results.execution.setdefault((peer, key), path)
    results.size.update(answers.size)
    part = f"{stage.workers} process(es)"
    results.verdict.update({f"{k}, {part}": v for k, v in answers.verdict.items() if " variant " not in k})
    checked = [k for k in answers.verdict if " variant " in k]
    if checked:
        results.verdict[f"varied, {part}"] = f"{len(checked)} sampled variants checked the same way"
    if "postgraphile-defaults" in stage.peers:
        other = check_answers(stage.queries, ours[:1], stage.peers["postgraphile-defaults"])
        answers.problems += other.problems
    for q in stage.queries:
        paths = {p.name: answers.execution.get((p.name, q.key)) for p in ours}
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
                request = q.postgraphile if peer.kind == "postgraphile" else q.ours
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
    """Statements per request for every peer (server log), and the replays' statements."""
    logged: dict[Window, list[LogEntry]] = {}
    if stage.db.log_file is None:
        _note(results, "The server log cannot be read here: statements per request n/a, no replay of PostGraphile.")
    else:
        try:
            logged = asyncio.run(_logged_requests(stage))
        except asyncpg.PostgresError as exc:
            _note(results, f"Statement capture failed ({type(exc).__name__}: {exc}): statements per request n/a.")
    results.statements.update(_per_request(logged))
    for q in stage.queries:
        for replay, source in REPLAYS.items():
            if replay not in stage.plan.peers:
                continue
            compiled = compiled_statement(q.document, q.operation, q.variables) if replay == "replay-ours" else None
            if compiled is not None:
                stage.replays[(replay, q.key)], results.replay_source[(replay, q.key)] = (
                    (compiled,),
                    "resolvers.compiler",
                )
            elif (source, q.key, 1) in logged:
                stage.replays[(replay, q.key)] = asyncio.run(for_replay(stage.db.dsn, logged[(source, q.key, 1)]))
                results.replay_source[(replay, q.key)] = f"log of {source}"
            else:
                _note(results, f"{q.key}: no statements for {replay}.")
                continue
            statements = stage.replays[(replay, q.key)]
            data = sum(1 for s in statements if reads_data(s.sql))
            results.statements[(replay, q.key)] = (float(data), float(len(statements)))


def _note(results: Results, text: str) -> None:
    if text not in results.notes:
        results.notes.append(text)


# --- timing -----------------------------------------------------------------------------------


STARTED = time.monotonic()


def _show(label: str, run: Run) -> None:
    print(
        f"{time.monotonic() - STARTED:6.0f}s {label:52} {run.rps:8.1f} req/s  p50 {run.p50_ms:8.1f} ms  p99 {run.p99_ms:8.1f} ms"
        f"  server {run.server_cpu_ms:7.2f} ms/req  PG {run.pg_cpu_ms:6.2f} ms/req  RSS {run.rss_mb:5.0f} MB"
        f"  n={run.requests} checked={run.checked}" + (f"  {run.errors} FAILED {run.bad_sample[:200]}" if run.errors else ""),
        flush=True,
    )  # fmt: skip


def warm_up(stage: Stage) -> None:
    for regime in stage.plan.regimes:
        for q in stage.queries:
            for t in stage.targets(q, regime):
                run = t.run(16, stage.plan.warmup)
                stage.estimate[(regime, q.key, t.name)] = run.rps
                _show(f"warm-up w{stage.workers} {regime} {q.key} {t.name}", run)


T = TypeVar("T")


def rotated(items: Sequence[T], r: int) -> list[T]:
    """``items`` in round ``r``'s order: the first moves on each round, so no peer and no
    regime always runs first, after another query's runs, or last, after the others'."""
    shift = r % max(1, len(items))
    return [*items[shift:], *items[:shift]]


def rounds(stage: Stage, results: Results) -> None:
    plan = stage.plan
    for r in range(plan.rounds):
        print(f"round {r + 1} of {plan.rounds}, {stage.workers} process(es) each", flush=True)
        for c in plan.concurrency:
            for q in stage.queries:
                # a cell's regimes back to back: the machine's drift falls on both
                for regime in rotated(plan.regimes, r):
                    for t in rotated(stage.targets(q, regime), r):
                        rps = stage.estimate.get((regime, q.key, t.name), 1.0)
                        run = t.run(c, duration_for(rps, c, plan.base, plan.cap))
                        results.add(q.key, regime, stage.workers, c, t.name, run)
                        _show(f"w{stage.workers} {regime} {q.key} c{c} {t.name}", run)


def paths_after(stage: Stage, results: Results) -> None:
    """Ask our peers once more: a path that changed during the run (a fallback) is reported."""
    for name, peer in stage.peers.items():
        if peer.kind != "ours":
            continue
        for q in stage.queries:
            now = send(peer, q.ours).headers.get(EXECUTION_HEADER, "absent")
            before = results.execution.get((name, q.key))
            if before != now:
                results.execution[(name, q.key)] = f"{before}, later {now}"


# --- the whole run ----------------------------------------------------------------------------


def measure(db: BenchDatabase, plan: Plan, results: Results, keep_going: bool) -> None:
    print(f"\n== {db.cases:,} cases ({db.volume_cases:,} added to the demo)", flush=True)
    if db.volume_cases > plan.size:
        _note(
            results,
            f"The database already held {db.volume_cases:,} synthetic cases where {plan.size:,} were asked for.",
        )
    results.versions["liaison-graph"] = _code()  # at the start: the tree may change while it runs
    token = bench_token()
    liaison(db.dsn, "queries", "push", str(SAVED), "--owner", "bench/perf.py")
    queries = [q for q in build_queries(token, asyncio.run(representations(db.dsn))) if q.key in plan.queries]
    results.titles.update({q.key: q.title for q in queries})
    replays: dict[tuple[str, str], tuple[Statement, ...]] = {}
    for i, workers in enumerate(plan.workers):
        part = f"{workers} process(es) per peer"
        load_start = os.getloadavg()
        print(f"\n== {part}; load average {load_start[0]:.2f}", flush=True)
        peers = start_peers(db.dsn, plan, workers, token)
        if plan.pool_size is None:
            results.our_pools[workers] = pool_size_for(db.dsn, workers)
        try:
            timed = {k: v for k, v in peers.items() if k in plan.peers}
            stage = Stage(db, plan, workers, queries, timed, replays)
            variants = {}
            if "varied" in plan.regimes:
                ours = [p for p in peers.values() if p.kind == "ours"]
                variants = draw(db.dsn, queries, ours, peers.get("postgraphile"))
                for q in queries:
                    if q.key in variants:
                        stage.bodies[(q.key, "ours")] = write_bodies(q, variants[q.key], "ours")
                        if q.postgraphile is not None and "postgraphile" in peers:
                            stage.bodies[(q.key, "postgraphile")] = write_bodies(q, variants[q.key], "postgraphile")
                results.variants.update({k: len(v) for k, v in variants.items()})
            check(dataclasses.replace(stage, peers=peers), results, variants, keep_going)
            if i == 0:
                capture(dataclasses.replace(stage, peers=peers), results)
            warm_up(stage)
            rounds(stage, results)
            paths_after(stage, results)
        finally:
            for peer in peers.values():
                stop(peer)
        results.parts.append((part, load_start[0], os.getloadavg()[0]))
    if (code := _code()) != results.versions["liaison-graph"]:
        _note(results, f"The tree changed while the run went on: liaison-graph {code} at its end.")
    results.versions.update(versions(db.dsn))
    results.database = describe(db)


def describe(db: BenchDatabase) -> str:
    where = f"embedded PostgreSQL in {db.server.data_dir.relative_to(ROOT)}" if db.server else "the PostgreSQL of --dsn"
    loaded = f"volume added in {db.load_seconds:.0f} s this run" if db.load_seconds else "reused as loaded before"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine())  # fmt: skip
    return (
        f"{os.cpu_count()} cores ({cpu}); everything on loopback. "
        f"Database: {db.cases:,} cases ({db.volume_cases:,} synthetic on top of the demo), {where}, {loaded}."
    )


def _code() -> str:
    """The commit this tree is at, and whether it has changes not committed: the code measured."""

    def git(*args: str) -> str:
        command = ["git", "-C", str(ROOT), *args]
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603

    commit = git("rev-parse", "--short", "HEAD") or "?"
    return f"{commit} with uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") else commit


def versions(dsn: str) -> dict[str, str]:
    async def server_version() -> str:
        conn = await asyncpg.connect(dsn)
        try:
            return await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()

    def npm_version(package: str, under: Path = PGL) -> str:
        path = under / "node_modules" / package / "package.json"
        return json.loads(path.read_text())["version"] if path.exists() else "?"

    node = subprocess.run([str(node_binary()), "--version"], capture_output=True, text=True, check=False).stdout  # noqa: S603
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split()  # noqa: S607
    return {
        "postgraphile": npm_version("postgraphile"),
        "grafast": npm_version("grafast"),
        "join-monster": npm_version("join-monster", JOINMONSTER),
        "graphql (join-monster's)": npm_version("graphql", JOINMONSTER),
        "node": node.strip(),
        "PostgreSQL": asyncio.run(server_version()),
        "python": platform.python_version(),
        "strawberry-graphql": importlib.metadata.version("strawberry-graphql"),
        "uvicorn": importlib.metadata.version("uvicorn"),
        "asyncpg": importlib.metadata.version("asyncpg"),
        "wrk": wrk[1] if len(wrk) > 1 else "?",
    }


NOTES = [
    "Authentication: every peer gets the same HS256 bearer token (role internal) from one issuer. Ours verifies "
    "it (and remembers a verified token, as for a dashboard); PostGraphile verifies it on every request in "
    "grafast's context and passes its claims as pgSettings, so it runs each request in a transaction with "
    "set_config, as a PostGraphile deployment with JWTs does. Chosen over anonymous access because Q1 and Q3 "
    "read cases, which our service shows to an authenticated role only.",
    "Session settings: PostGraphile's pool takes our pool's (jit = off, plan_cache_mode = force_generic_plan, "
    "timezone = UTC) as libpq options; `postgraphile-defaults`, when run, is PostGraphile on PostgreSQL's defaults.",
    "Identical regime: the same request every time. Varied regime: bench/varied.py's variants (codes, regions, "
    "page sizes, cursors) in turn, each wrk thread from its own offset.",
    "Bodies checked during timing: one response in N (see the failures column) must be HTTP 200 and a JSON object "
    'with a "data" member and no "errors" member (a string check in bench/wrk.lua); a failure counts as an error.',
    "Replays (identical regime only): one request's statements, from the server log (or resolvers.compiler), sent "
    "one after the other through the service's own pool (db/pool.py: its session settings, no reset round trip), "
    "a connection per request, at the same concurrency; parameters as text cast to the types PostgreSQL infers, "
    "writes left out. replay-postgraphile includes PostGraphile's BEGIN, set_config and COMMIT.",
    "Q2 on PostGraphile reads the view contact_point_current_rating (given a primary and a foreign key by "
    "smart tags in bench/postgraphile/server.mjs) ordered by contact point id, which orders as code does in "
    "this data (the check above compares the lists).",
    "Q4 is the part of our district statistics PostGraphile's amber preset can express: contact points in "
    "all and by host kind, as totalCount of filtered connections.",
    "joinmonster: join-monster 4 over graphql-js (bench/joinmonster/server.js), our documents in our schema's shape, "
    "one statement per request (sqlJoin, offset sqlPaginate with count(*) OVER () for totalCount), literal SQL "
    "(join-monster does not parameterise), node:cluster workers on PostGraphile's Node, the same token verified "
    "per request (no transaction: no pgSettings to pass), a pg Pool of 10 per worker with our session settings. "
    "Q2 pages with our cursors through a `where`; Q4's statistics are an sqlExpr per district; no Q5 (no federation).",
    "PostgreSQL's CPU includes background processes (checkpointer, WAL writer, autovacuum) during the run.",
]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    def ints(text: str) -> tuple[int, ...]:
        return tuple(int(x) for x in text.split(","))

    def words(text: str) -> tuple[str, ...]:
        return tuple(text.split(","))

    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--smoke", action="store_true", help="demo data, 1 round of 2–4 s runs at c=16: proves the harness"
    )
    parser.add_argument("--dsn", help="use this PostgreSQL (migrations, demo and volume are added as needed)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md", help="append the tables here")
    parser.add_argument("--size", type=int, help="synthetic cases on top of the demo (default 1000000; --smoke 0)")
    parser.add_argument("--rounds", type=int, help="rounds (default 5; --smoke 1)")
    parser.add_argument("--duration", type=float, help="seconds a timed run lasts at least (default 10; --smoke 2)")
    parser.add_argument("--workers", type=ints, help="processes per peer, one part each (default 1,2)")
    parser.add_argument("--concurrency", type=ints, help="wrk connections (default 16,64; --smoke 16)")
    parser.add_argument("--regimes", type=words, help="identical,varied (default both)")
    parser.add_argument("--queries", type=words, help="of Q1,Q2,Q3,Q4 (default) and Q4c,Q5,Q6 (ours only)")
    parser.add_argument(
        "--peers",
        type=words,
        help=f"of {','.join(HTTP_PEERS + tuple(REPLAYS))} (default all but postgraphile-defaults)",
    )
    parser.add_argument(
        "--postgraphile-defaults", action="store_true", help="also PostGraphile on PostgreSQL's session defaults"
    )
    parser.add_argument(
        "--autogroups",
        choices=("on", "off"),
        help="the kernel's autogroups during the run (root; put back after): off, PostgreSQL's backends share the CPU "
        "process by process with the peers and wrk, not as one group",
    )
    parser.add_argument("--wrk-cpus", help="taskset CPU list for wrk (e.g. 1), to keep it off the servers' cores")
    parser.add_argument(
        "--node-flags", type=shlex.split, help="flags for PostGraphile's node, e.g. '--max-semi-space-size=64'"
    )
    parser.add_argument(
        "--pool-size", type=int, help="connections per process in every peer's pool (default: each peer's, 10)"
    )
    parser.add_argument("--check-every", type=int, help="check one response body in N during timing (default 10)")
    parser.add_argument("--keep-going", action="store_true", help="time even when answers differ (flagged)")
    return parser.parse_args(argv)  # fmt: skip


def plan_from(args: argparse.Namespace) -> Plan:
    plan = SMOKE if args.smoke else FULL
    changes = {
        "size": args.size,
        "rounds": args.rounds,
        "base": args.duration,
        "workers": args.workers,
        "concurrency": args.concurrency,
        "regimes": args.regimes,
        "queries": args.queries,
        "peers": args.peers,
        "wrk_cpus": args.wrk_cpus,
        "node_flags": tuple(args.node_flags) if args.node_flags else None,
        "check_every": args.check_every,
        "pool_size": args.pool_size,
    }
    plan = dataclasses.replace(plan, **{k: v for k, v in changes.items() if v is not None})
    if args.duration is not None:
        plan = dataclasses.replace(plan, cap=max(plan.cap, 6 * args.duration))
    if args.postgraphile_defaults and "postgraphile-defaults" not in plan.peers:
        plan = dataclasses.replace(plan, peers=(*plan.peers, "postgraphile-defaults"))
    unknown = set(plan.peers) - set(HTTP_PEERS) - set(REPLAYS) or set(plan.regimes) - set(REGIMES)
    if unknown:
        raise SystemExit(f"unknown peers or regimes: {', '.join(sorted(unknown))}")
    return plan


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    plan = plan_from(args)
    check_wrk()
    npm_ci()
    started = time.monotonic()
    results = Results(
        mode="smoke" if args.smoke else "full",
        command=".venv/bin/python -m bench.perf " + shlex.join(sys.argv[1:] if argv is None else argv),
        started=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        notes=list(NOTES),
        load_at_start=os.getloadavg()[0],
        check_every=plan.check_every,
        wrk_cpus=plan.wrk_cpus,
        node_flags=" ".join(plan.node_flags),
        pool_size=plan.pool_size,
    )
    wanted = None if args.autogroups is None else args.autogroups == "on"
    with autogroups(wanted) as results.autogroups, bench_database(args.dsn, plan.size, returns_for(plan.size)) as db:
        measure(db, plan, results, args.keep_going)
    results.seconds = time.monotonic() - started
    text = markdown(results)
    print("\n" + text)
    with args.out.open("a") as f:
        f.write("\n" + text)
    print(f"appended to {args.out}; {results.seconds / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
