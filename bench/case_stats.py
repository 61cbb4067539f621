"""Case statistics read from summaries, at volume, and what keeping the summaries costs intake.

    .venv/bin/python -m bench.case_stats                               # 100k and 1M cases
    .venv/bin/python -m bench.case_stats --sizes 100000 1000000 10000000 --out bench/RESULTS.md

Per size (an embedded PostgreSQL per volume in bench/.data/, as bench/perf.py builds it;
the load time is reported when this run loads it):

1. PostgreSQL's time for Q4c's statistics (the 16 Shanghai districts over 2020) in process,
   sequentially: from the summaries (``db.stats.case_stats``, the DataLoader path's statement),
   from the raw rows (``case_stats_from_rows``, the computation the API ran before), the two
   checked equal, and Q4c's whole compiled statement (``db.compiled``, which reads the
   summaries inside it).
2. Q4c over HTTP (bench/queries/q4c_case_stats.graphql) against one ``liaison serve`` on the
   compiled path (checked by its X-Liaison-Execution header), with wrk at 16 connections
   after a warm-up: p50, p99 and req/s, against the targets.
3. Intake: single-row INSERTs of a case, each its own transaction, with the summary
   triggers and with them disabled, alternating in rounds; the rows are deleted after
   (with the same triggers), so the summaries stay exact (``stats check`` runs at the end).
   Wall time and the backend's CPU per insert; ``--intake-only`` measures this alone. Since
   migration 0023 the summaries' functions bump the versions themselves, so the middle mode
   ("summaries without versions", the summary tables' version triggers disabled) keeps
   the bumps of intake and differs from the first by nothing but noise.

``--load-probe N`` also times ``add_volume`` of N cases into a fresh demo database in the
same cluster, with and without the triggers (the database is dropped after).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import statistics
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx2
from graphql import parse
from graphql.utilities import get_operation_ast

from api.startup import prepare_database
from db import stats, summaries
from db.access import Role, Viewer
from db.answers import render_versioned
from db.compiled import render
from db.plan import Root
from db.volume import add_volume
from resolvers.compiler import Compiler
from schema import schema
from schema.compiled import HEADER

from .benchdb import BenchDatabase, bench_database, returns_for
from .load import Run, check_wrk, run_wrk
from .peers import start_ours, stop
from .perf import bench_token
from .procs import busy_ns
from .queries import build_queries

INTERNAL = Viewer(Role.INTERNAL)
PERIOD = (datetime.date(2020, 1, 1), datetime.date(2021, 1, 1))
Q4C = Path(__file__).parent / "queries" / "q4c_case_stats.graphql"
TARGET_P50_MS, TARGET_RPS, INTAKE_MARGIN = 20.0, 200.0, 0.20
CASE_TRIGGERS = ("case_summaries_insert", "case_summaries_delete")
VERSION_TRIGGERS = {
    table: tuple(f"{table}_version_{event}" for event in ("insert", "update", "delete"))
    for table in ("case_summary", "case_close_histogram")
}
"""Migration 0022's triggers that bump the versions of the case summaries' cells."""
INTAKE_MODES = ("with summaries", "summaries without versions", "without")
RETURN_TRIGGERS = ("return_summaries_insert", "return_summaries_delete")
INSERT = """
INSERT INTO "case" (number, kind, channel, category, status, contact_point_id, amount_claimed, opened_at)
VALUES ($1, 'complaint', 'on_site', 'product_quality', 'received', $2, 120.00, $3)"""


@dataclass
class Measured:
    size: int
    cases: int
    load_seconds: float
    summary_ms: float
    raw_ms: float
    compiled_ms: float
    check_ms: float
    """The kept answer's check: the versions Q4c's statement read (``db.answers``)."""
    http: dict[str, Run]
    """By run: one worker at 1 and 16 connections, two workers at 16; answers kept or not."""
    loads: dict[str, float]
    """The one-minute load average after each run."""
    intake: Intake
    differences: int


async def _districts(conn: asyncpg.Connection) -> list[str]:
    return [r[0] for r in await conn.fetch("SELECT code FROM district WHERE region_code = '310000' ORDER BY code")]


async def _timed(conn: asyncpg.Connection, stat: object, keys: list[str], runs: int) -> tuple[float, list[object]]:
    times, found = [], []
    for _ in range(runs):
        started = time.perf_counter()
        found = await stat(conn, "district", keys, *PERIOD)  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), found


def _compiled_q4c() -> Root:
    """Q4c's plan as the compiler makes it for the bench's (internal) viewer."""
    compiler = Compiler(schema)
    document = parse(Q4C.read_text())
    operation = get_operation_ast(document)
    assert operation is not None
    return compiler.plan(document, operation, {}, INTERNAL, 100)


async def _median_ms(conn: asyncpg.Connection, sql: str, values: Sequence[object], runs: int = 30) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await conn.fetch(sql, *values)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def sql_times(dsn: str, raw_runs: int) -> tuple[float, float, float, float]:
    conn = await asyncpg.connect(dsn)
    try:
        keys = await _districts(conn)
        summary_ms, from_summaries = await _timed(conn, stats.case_stats, keys, 30)
        raw_ms, from_rows = await _timed(conn, stats.case_stats_from_rows, keys, raw_runs)
        if repr(from_summaries) != repr(from_rows):
            raise SystemExit("the summaries' statistics differ from the raw rows': run `liaison stats check`")
        plan = _compiled_q4c()
        _, _, check = render_versioned(plan, INTERNAL)
        assert check is not None
        compiled_ms = await _median_ms(conn, *render(plan, INTERNAL))
        return summary_ms, raw_ms, compiled_ms, await _median_ms(conn, check.sql, check.values)
    finally:
        await conn.close()


def http_runs(db: BenchDatabase, seconds: float) -> tuple[dict[str, Run], dict[str, float]]:
    """Q4c over HTTP per run, with the compiled answers kept (``db.answers``) and without
    (``LIAISON_ANSWERS_MIB=0``); and the one-minute load average after each run."""
    q4c = next(q for q in build_queries(bench_token(), []) if q.key == "Q4c")
    found, loads = {}, {}
    for workers, concurrency in ((1, 1), (1, 16), (2, 16)):
        for kept, env in (("kept", {}), ("not kept", {"LIAISON_ANSWERS_MIB": "0"})):
            peer = start_ours("ours-compiled", db.dsn, "compiled", workers=workers, env=env)
            try:
                answer = httpx2.post(
                    peer.url(q4c.ours.path), content=q4c.ours.body, headers=q4c.ours.headers, timeout=300
                )
                body = answer.json()
                if "errors" in body or len(body["data"]["region"]["districts"]) != 16:
                    raise SystemExit(f"Q4c failed: {answer.text[:500]}")
                if answer.headers.get(HEADER) != "compiled":
                    raise SystemExit(f"Q4c ran on the {answer.headers.get(HEADER)} path, not the compiled one")
                run_wrk(peer, q4c.ours, concurrency, 3, db.postmaster_pid)  # warm-up
                name = f"{workers}w c={concurrency} {kept}"
                found[name] = run_wrk(peer, q4c.ours, concurrency, seconds, db.postmaster_pid)
                loads[name] = os.getloadavg()[0]
            finally:
                stop(peer)
    return found, loads


async def _set_triggers(conn: asyncpg.Connection, enabled: bool, triggers: tuple[str, ...], table: str) -> None:
    for trigger in triggers:
        await conn.execute(f"ALTER TABLE {table} {'ENABLE' if enabled else 'DISABLE'} TRIGGER {trigger}")


async def _set_versions(conn: asyncpg.Connection, enabled: bool) -> None:
    for table, triggers in VERSION_TRIGGERS.items():
        await _set_triggers(conn, enabled, triggers, table)


@dataclass
class Intake:
    ms: dict[str, float]
    """Median wall time per insert (its own transaction, commit included), by mode."""
    cpu_ms: dict[str, float] | None
    """The backend's CPU per insert, by mode (steadier on a shared machine); None when the
    server is not local."""
    load: tuple[float, float]
    """The one-minute load average before and after."""


async def intake(dsn: str, rounds: int, per_round: int) -> Intake:
    """Per single-row INSERT (its own transaction) with the summary triggers (and the
    versions they bump), with the summaries but not their versions, and with neither."""
    conn = await asyncpg.connect(dsn)
    times: dict[str, list[float]] = {mode: [] for mode in INTAKE_MODES}
    cpu: dict[str, int] = dict.fromkeys(INTAKE_MODES, 0)
    local = True
    load = os.getloadavg()[0]
    try:
        backend = await conn.fetchval("SELECT pg_backend_pid()")
        points = [
            r[0] for r in await conn.fetch("SELECT id FROM contact_point WHERE district_code LIKE '31%' LIMIT 50")
        ]
        opened = datetime.datetime(2020, 6, 1, 9, tzinfo=datetime.UTC)
        serial = 0
        for turn in range(rounds * len(INTAKE_MODES)):
            mode = INTAKE_MODES[(turn + turn // len(INTAKE_MODES)) % len(INTAKE_MODES)]  # the first rotating
            await _set_triggers(conn, mode != "without", CASE_TRIGGERS, '"case"')
            await _set_versions(conn, mode == "with summaries")
            try:
                numbers = []
                before = busy_ns(backend)
                for i in range(per_round):
                    serial += 1
                    numbers.append(f"C310101-2099-{serial:07d}")
                    started = time.perf_counter()
                    await conn.execute(INSERT, numbers[-1], points[i % len(points)], opened)
                    times[mode].append((time.perf_counter() - started) * 1000)
                after = busy_ns(backend)
                if before is None or after is None:
                    local = False
                else:
                    cpu[mode] += after - before
                await _set_versions(conn, True)
                await conn.execute('DELETE FROM "case" WHERE number = ANY($1::text[])', numbers)
            finally:
                await _set_triggers(conn, True, CASE_TRIGGERS, '"case"')
                await _set_versions(conn, True)
    finally:
        await conn.close()
    return Intake(
        {mode: statistics.median(found) for mode, found in times.items()},
        {mode: ns / 1e6 / len(times[mode]) for mode, ns in cpu.items()} if local else None,
        (load, os.getloadavg()[0]),
    )


async def load_probe(dsn: str, cases: int) -> dict[str, float]:
    """Seconds to add ``cases`` cases (and a tenth as many returns) with and without the triggers."""
    admin = await asyncpg.connect(dsn)
    name = "bench_load_probe"
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name}")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    probe = urllib.parse.urlsplit(dsn)._replace(path=f"/{name}").geturl()
    found = {}
    try:
        await prepare_database(probe, demo=True)
        for mode, seed in (("with summaries", 11), ("without", 12)):
            conn = await asyncpg.connect(probe)
            try:
                await _set_triggers(conn, mode != "without", CASE_TRIGGERS, '"case"')
                await _set_triggers(conn, mode != "without", RETURN_TRIGGERS, "cross_store_return")
            finally:
                await conn.close()
            started = time.monotonic()
            await add_volume(probe, cases=cases, returns=returns_for(cases), seed=seed)
            found[mode] = time.monotonic() - started
    finally:
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name}")
        finally:
            await admin.close()
    return found


async def _insert_all(conn: asyncpg.Connection, numbers: list[str], point: int, opened: datetime.datetime) -> None:
    for number in numbers:
        await conn.execute(INSERT, number, point, opened)


async def concurrent_intake(dsn: str, writers: int, per_writer: int) -> dict[str, float]:
    """Cases per second from ``writers`` connections inserting at once (each insert its own
    transaction), all at one district's contact points or each writer at another district's,
    with the version triggers on and off: whether the version rows make writers wait."""
    admin = await asyncpg.connect(dsn)
    conns = [await asyncpg.connect(dsn) for _ in range(writers)]
    found: dict[str, float] = {}
    try:
        by_district = [
            r[0]
            for r in await admin.fetch(
                "SELECT min(id) FROM contact_point WHERE district_code LIKE '31%' GROUP BY district_code ORDER BY 1"
            )
        ]
        opened = datetime.datetime.now(datetime.UTC)
        serial = 0
        for versions in (True, False, True, False):
            await _set_versions(admin, versions)
            for spread in ("one district", "a district each"):
                numbers = [
                    [f"C310101-2098-{n:02d}{i:03d}{serial:02d}" for i in range(per_writer)] for n in range(writers)
                ]
                points = [by_district[0 if spread == "one district" else n % len(by_district)] for n in range(writers)]
                started = time.perf_counter()
                await asyncio.gather(*(_insert_all(*w, opened) for w in zip(conns, numbers, points, strict=True)))
                rate = writers * per_writer / (time.perf_counter() - started)
                key = f"{spread}, versions {'on' if versions else 'off'}"
                found[key] = max(found.get(key, 0.0), rate)
                await _set_versions(admin, True)
                await admin.execute(
                    'DELETE FROM "case" WHERE number = ANY($1::text[])', [n for w in numbers for n in w]
                )
                await _set_versions(admin, versions)
                serial += 1
    finally:
        await _set_versions(admin, True)
        for conn in conns:
            await conn.close()
        await admin.close()
    return found


async def _check(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return len(await summaries.check(conn))
    finally:
        await conn.close()


def measure(size: int, args: argparse.Namespace) -> Measured:
    with bench_database(args.dsn, size, returns_for(size)) as db:
        summary_ms, raw_ms, compiled_ms, check_ms = asyncio.run(sql_times(db.dsn, args.raw_runs))
        print(
            f"{size:,}: statistics {summary_ms:.1f} ms from summaries, {raw_ms:.0f} ms from rows,"
            f" Q4c's compiled statement {compiled_ms:.1f} ms, its versions' check {check_ms:.2f} ms",
            flush=True,
        )
        http, loads = http_runs(db, args.seconds)
        for name, run in http.items():
            print(f"{size:,}: Q4c {name} p50 {run.p50_ms:.1f} ms, {run.rps:.0f} req/s", flush=True)
        found = asyncio.run(intake(db.dsn, args.intake_rounds, args.intake_rows))
        print(f"{size:,}: intake {found}", flush=True)
        differences = asyncio.run(_check(db.dsn))
        return Measured(
            size,
            db.cases,
            db.load_seconds,
            summary_ms,
            raw_ms,
            compiled_ms,
            check_ms,
            http,
            loads,
            found,
            differences,
        )


def intake_table(found: list[tuple[int, Intake, int]]) -> list[str]:
    """The intake rows of the report: wall time and backend CPU per insert, by mode, against the target."""
    lines = [
        "",
        "| cases | intake with summaries and versions | summaries without versions | without | ratio"
        " | CPU per insert (with / without versions / without) | CPU ratio | within 20 % | load average"
        " | `stats check` after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cases, taken, differences in found:
        ms, cpu = taken.ms, taken.cpu_ms
        ratio = ms["with summaries"] / ms["without"]
        cpu_text = " / ".join(f"{cpu[m]:.3f}" for m in INTAKE_MODES) + " ms" if cpu else "not local"
        cpu_ratio = f"{cpu['with summaries'] / cpu['without']:.2f}" if cpu else ""
        lines.append(
            f"| {cases:,} | {ms['with summaries']:.2f} ms | {ms['summaries without versions']:.2f} ms"
            f" | {ms['without']:.2f} ms | {ratio:.2f} | {cpu_text} | {cpu_ratio}"
            f" | {'met' if ratio <= 1 + INTAKE_MARGIN else 'missed'}"
            f" | {taken.load[0]:.1f}–{taken.load[1]:.1f} | {differences} differences |"
        )
    return lines


def report(found: list[Measured], probe: dict[str, float] | None, probe_cases: int, args: argparse.Namespace) -> str:
    lines = [
        f"## Case statistics from summaries (`bench/case_stats.py`), {datetime.date.today().isoformat()}",
        "",
        "Q4c (case statistics of the 16 Shanghai districts over 2020) read from the summaries of",
        "migration 0009 (rows per district and day, month, year); "
        + ("the database given by --dsn" if args.dsn else "embedded PostgreSQL 18 per volume (bench/.data/)")
        + ", `liaison serve` with LIAISON_EXECUTION=compiled (Q4c is one statement that",
        f"reads the summaries), wrk {args.seconds:.0f} s per run after a 3 s warm-up, one uvicorn worker",
        "at 1 and 16 connections and two workers at 16. SQL, in process, sequential: the DataLoader",
        f"path's statement (median of 30 from summaries, {args.raw_runs} from the raw rows, as the API ran",
        "before) and Q4c's compiled statement (median of 30).",
        f"Intake: single-row INSERTs of a case, each its own transaction, {args.intake_rounds} rounds",
        f"of {args.intake_rows} per mode, alternating; median. CPU per request: the service's process tree",
        "and PostgreSQL's. Targets: p50 ≤ 20 ms and ≥ 200 req/s at c=16; intake within 20 %.",
        "",
        "| cases | load (this run) | SQL from summaries | SQL from rows | compiled Q4c | its check | run | p50 | p99 | req/s"
        " | service CPU/req | PostgreSQL CPU/req | load average | targets at c=16 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in found:
        for name, run in m.http.items():
            met = ""
            if "c=16" in name:
                met = (
                    f"p50 {'met' if run.p50_ms <= TARGET_P50_MS else 'missed'},"
                    f" req/s {'met' if run.rps >= TARGET_RPS else 'missed'}"
                )
            lines.append(
                f"| {m.cases:,} | {f'{m.load_seconds:.0f} s' if m.load_seconds else 'reused'} | {m.summary_ms:.1f} ms"
                f" | {m.raw_ms:,.0f} ms | {m.compiled_ms:.1f} ms | {m.check_ms:.2f} ms | {name} | {run.p50_ms:.1f} ms | {run.p99_ms:.1f} ms | {run.rps:,.0f}"
                f" | {run.server_cpu_ms:.1f} ms | {run.pg_cpu_ms:.1f} ms | {m.loads[name]:.1f} | {met} |"
            )
    lines += intake_table([(m.cases, m.intake, m.differences) for m in found])
    if probe:
        lines += [
            "",
            f"Load probe: `add_volume` of {probe_cases:,} cases and {returns_for(probe_cases):,} returns into a fresh"
            f" demo database: {probe['with summaries']:.1f} s with the summary triggers,"
            f" {probe['without']:.1f} s without ({probe['with summaries'] / probe['without']:.2f}×).",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--raw-runs", type=int, default=3)
    parser.add_argument("--intake-rounds", type=int, default=3)
    parser.add_argument("--intake-rows", type=int, default=300)
    parser.add_argument("--load-probe", type=int, default=0, help="also time add_volume of N cases with/without")
    parser.add_argument("--dsn", help="a database to bring to the volume instead of an embedded cluster per size")
    parser.add_argument("--intake-only", action="store_true", help="measure intake alone (and `stats check`)")
    parser.add_argument("--writers", type=int, default=0, help="also measure intake from N concurrent writers")
    parser.add_argument("--out", help="append the section to this file (bench/RESULTS.md)")
    args = parser.parse_args()
    if args.intake_only:
        rows = []
        for size in args.sizes:
            with bench_database(args.dsn, size, returns_for(size)) as db:
                taken = asyncio.run(intake(db.dsn, args.intake_rounds, args.intake_rows))
                rows.append((db.cases, taken, asyncio.run(_check(db.dsn))))
        print("\n".join(intake_table(rows)))
        return
    check_wrk()
    found = [measure(size, args) for size in args.sizes]
    probe = None
    if args.load_probe:
        with bench_database(None, args.sizes[0], returns_for(args.sizes[0])) as db:
            probe = asyncio.run(load_probe(db.dsn, args.load_probe))
    text = report(found, probe, args.load_probe, args)
    if args.writers:
        with bench_database(args.dsn, args.sizes[0], returns_for(args.sizes[0])) as db:
            rates = asyncio.run(concurrent_intake(db.dsn, args.writers, args.intake_rows))
        text += "\n" + "\n".join(
            f"- {args.writers} concurrent writers, {key}: {rate:,.0f} cases/s" for key, rate in rates.items()
        )
        text += f" (best of two rounds; load average {os.getloadavg()[0]:.1f})\n"
    print(text)
    if args.out:
        with open(args.out, "a", encoding="utf-8") as out:
            out.write("\n" + text)


if __name__ == "__main__":
    main()
