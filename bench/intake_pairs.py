"""Intake before and after a change, insert by insert: two databases of the same volume (say
one at migration 0022, one at 0023), one connection to each, their single-row INSERTs
alternated one by one, so the shared machine's load falls on both alike.

    .venv/bin/python -m bench.intake_pairs DSN_BEFORE DSN_AFTER --rounds 4 --rows 300

Per database and mode (the case summary triggers on, or disabled as bench/case_stats.py
does), the median wall time per insert (its own transaction, commit included) and the
median CPU of the backend per insert (``/proc/<pid>/schedstat``, read around each insert;
the server must be local). The inserts are deleted after each round with the same triggers
as they were made with, so the summaries stay exact.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import statistics
import time

import asyncpg

from .case_stats import CASE_TRIGGERS, INSERT, _set_triggers
from .procs import busy_ns

MODES = ("with summaries", "without")


async def _insert(conn: asyncpg.Connection, pid: int, number: str, point: int) -> tuple[float, float]:
    opened = datetime.datetime(2020, 6, 1, 9, tzinfo=datetime.UTC)
    cpu = busy_ns(pid)
    started = time.perf_counter()
    await conn.execute(INSERT, number, point, opened)
    wall = (time.perf_counter() - started) * 1000
    after = busy_ns(pid)
    if cpu is None or after is None:
        raise SystemExit("the server is not local: no backend CPU to read")
    return wall, (after - cpu) / 1e6


async def pairs(dsns: list[str], rounds: int, rows: int) -> dict[tuple[int, str], tuple[float, float]]:
    conns = [await asyncpg.connect(dsn) for dsn in dsns]
    found: dict[tuple[int, str], list[tuple[float, float]]] = {(d, m): [] for d in range(len(dsns)) for m in MODES}
    serial = 0
    try:
        pids = [await conn.fetchval("SELECT pg_backend_pid()") for conn in conns]
        points = [
            [
                r[0]
                for r in await conn.fetch(
                    "SELECT id FROM contact_point WHERE district_code LIKE '31%' ORDER BY id LIMIT 50"
                )
            ]
            for conn in conns
        ]
        for turn in range(rounds * len(MODES)):
            mode = MODES[turn % len(MODES)]
            numbers = []
            for conn in conns:
                await _set_triggers(conn, mode != "without", CASE_TRIGGERS, '"case"')
            try:
                for i in range(rows):
                    serial += 1
                    numbers.append(f"C310101-2097-{serial:07d}")
                    order = range(len(conns)) if i % 2 == 0 else reversed(range(len(conns)))
                    for d in order:
                        found[d, mode].append(await _insert(conns[d], pids[d], numbers[-1], points[d][i % 50]))
                for conn in conns:
                    await conn.execute('DELETE FROM "case" WHERE number = ANY($1::text[])', numbers)
            finally:
                for conn in conns:
                    await _set_triggers(conn, True, CASE_TRIGGERS, '"case"')
    finally:
        for conn in conns:
            await conn.close()
    return {
        key: (statistics.median(w for w, _ in taken), statistics.median(c for _, c in taken))
        for key, taken in found.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dsns", nargs=2, metavar="DSN", help="the database before, then the one after")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--rows", type=int, default=300)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    found = asyncio.run(pairs(args.dsns, args.rounds, args.rows))
    print(f"load average {load:.1f}–{os.getloadavg()[0]:.1f}; {args.rounds} rounds of {args.rows} per mode")
    print("| database | with summaries: wall / CPU | without: wall / CPU | ratio wall / CPU |")
    print("|---|---|---|---|")
    for d, name in enumerate(("before", "after")):
        (w1, c1), (w0, c0) = found[d, "with summaries"], found[d, "without"]
        print(f"| {name} | {w1:.2f} / {c1:.3f} ms | {w0:.2f} / {c0:.3f} ms | {w1 / w0:.2f} / {c1 / c0:.2f} |")


if __name__ == "__main__":
    main()
