"""What Q3's compiled statement costs a request alone and shared (``db.sql.shared_form``).

For 1, 2, 4 and 8 contact points of the database given, each round runs the statement
once for each point, then the statement's shared form once for all of them, ``--executions``
times, on one connection with the service's session settings. It prints the medians
over the rounds of PostgreSQL's backend CPU and of this process's CPU (asyncpg's side),
per request. The shared answers are first compared with the separate ones.

    .venv/bin/python -m bench.shared_cost --dsn postgresql://... [--rounds 7] [--executions 300]

Backend CPU comes from ``/proc/<pid>/schedstat``, so PostgreSQL must run on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import asyncpg

from db.sql import shared_form

from .capture import compiled_statement
from .procs import busy_ns
from .queries import build_queries
from .sql_cost import SESSION

__all__ = ["main"]

GROUPS = (1, 2, 4, 8)


async def measure(dsn: str, rounds: int, executions: int) -> None:
    q3 = next(q for q in build_queries("unused", []) if q.key == "Q3")
    statement = compiled_statement(q3.document, q3.operation, q3.variables)
    assert statement is not None, "Q3 is not compiled"
    shared_sql = shared_form(statement.sql)
    assert shared_sql is not None, "Q3's statement has no shared form"
    cases = statement.args[1]
    conn = await asyncpg.connect(dsn, server_settings=SESSION)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        codes = [
            r[0] for r in await conn.fetch("SELECT code FROM contact_point ORDER BY md5(code) LIMIT $1", GROUPS[-1])
        ]
        alone = await conn.prepare(statement.sql)
        shared = await conn.prepare(shared_sql)
        answers = [await alone.fetchval(code, cases) for code in codes]
        rows = await shared.fetch(codes, [cases] * len(codes))
        assert [text for _, text in sorted(rows)] == answers, "the shared form answers otherwise"
        for size in GROUPS:
            group = codes[:size]
            figures: dict[str, list[float]] = {"alone": [], "shared": [], "alone, asyncpg": [], "shared, asyncpg": []}
            for _ in range(rounds):
                for name in ("alone", "shared"):
                    backend, mine = busy_ns(pid), time.process_time()
                    for _ in range(executions):
                        if name == "alone":
                            for code in group:
                                await alone.fetchval(code, cases)
                        else:
                            await shared.fetch(group, [cases] * size)
                    requests = executions * size
                    after = busy_ns(pid)
                    if backend is not None and after is not None:
                        figures[name].append((after - backend) / 1000 / requests)
                    figures[f"{name}, asyncpg"].append((time.process_time() - mine) * 1e6 / requests)
            medians = {name: statistics.median(values) for name, values in figures.items() if values}
            print(
                f"{size} at once: backend CPU a request alone {medians.get('alone', float('nan')):.1f} µs, "
                f"shared {medians.get('shared', float('nan')):.1f} µs; asyncpg's side alone "
                f"{medians['alone, asyncpg']:.1f} µs, shared {medians['shared, asyncpg']:.1f} µs",
                flush=True,
            )
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--executions", type=int, default=300, help="per round and group size")
    args = parser.parse_args()
    asyncio.run(measure(args.dsn, args.rounds, args.executions))


if __name__ == "__main__":
    main()
