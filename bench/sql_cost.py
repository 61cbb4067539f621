"""What our compiled statements cost PostgreSQL, per query, apart from everything else.

For Q1-Q4c (bench/queries.py, identical regime): the statement the compiled path sends
(``bench.capture.compiled_statement``), on one connection with the service's session
settings (db/pool.py: ``jit`` off, generic plans). Interleaved rounds of:

- backend CPU per execution, from ``/proc/<pid>/schedstat`` of the connection's backend
  (only when PostgreSQL runs on this machine; the steadier figure on shared cores);
- round trip per execution;
- ``EXPLAIN (ANALYZE, BUFFERS, TIMING OFF)`` of a freshly prepared generic plan: planning
  and execution time, shared buffers.

Medians are printed. ``--save DIR`` writes each statement and its arguments (JSON), and
``--against DIR`` measures statements saved that way beside today's, interleaved, after
checking that they answer the same: before and after a change to the renderer.

``python -m bench.sql_cost --dsn postgresql://... [--rounds 20] [--queries Q1,Q4]``
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import statistics
import time
from pathlib import Path
from typing import Any

import asyncpg

from .capture import compiled_statement
from .procs import busy_ns
from .queries import build_queries

SESSION = {
    "application_name": "bench-sql-cost",
    "timezone": "UTC",
    "jit": "off",
    "plan_cache_mode": "force_generic_plan",
}
"""db/pool.py's settings for the service's connections."""


def _revive(value: Any) -> Any:
    """Arguments read back from JSON: days as dates again (the statistics' periods)."""
    if isinstance(value, list):
        return [_revive(v) for v in value]
    if isinstance(value, str) and len(value) == 10 and value[4] == value[7] == "-":
        return datetime.date.fromisoformat(value)
    return value


class Side:
    """One statement measured: its figures by name, one per round."""

    def __init__(self, conn: asyncpg.Connection, sql: str, args: list[Any]) -> None:
        self.conn, self.sql, self.args = conn, sql, args
        self.figures: dict[str, list[float]] = {
            "cpu": [],
            "round trip": [],
            "planning": [],
            "execution": [],
            "buffers": [],
        }

    async def prepare(self) -> str:
        self.statement = await self.conn.prepare(self.sql)
        self.literals = []
        for param, arg in zip(self.statement.get_parameters(), self.args, strict=True):
            type_ = await self.conn.fetchval("SELECT format_type($1::oid, NULL)", param.oid)
            text = await self.conn.fetchval(f"SELECT quote_nullable($1::{type_}::text)", arg)
            self.literals.append(f"{text}::{type_}")
        return await self.statement.fetchval(*self.args)

    async def round(self, pid: int, executions: int) -> None:
        cpu, started = busy_ns(pid), time.perf_counter()
        for _ in range(executions):
            await self.statement.fetchval(*self.args)
        self.figures["round trip"].append((time.perf_counter() - started) * 1000 / executions)
        after = busy_ns(pid)
        if cpu is not None and after is not None:
            self.figures["cpu"].append((after - cpu) / 1e6 / executions)
        await self.conn.execute(f"PREPARE cost AS {self.sql}")
        try:
            call = f"EXECUTE cost({', '.join(self.literals)})" if self.literals else "EXECUTE cost"
            [plan] = json.loads(await self.conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) {call}"))
        finally:
            await self.conn.execute("DEALLOCATE cost")
        self.figures["planning"].append(plan["Planning Time"])
        self.figures["execution"].append(plan["Execution Time"])
        self.figures["buffers"].append(
            plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0)
        )

    def summary(self) -> str:
        medians = {name: statistics.median(values) for name, values in self.figures.items() if values}
        return ", ".join(
            f"{name} {value:.0f}" if name == "buffers" else f"{name} {value:.3f} ms" for name, value in medians.items()
        )


async def measure(
    dsn: str, keys: list[str], rounds: int, executions: int, save: Path | None, against: Path | None
) -> None:
    conn = await asyncpg.connect(dsn, server_settings=SESSION)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        for query in build_queries("unused", []):
            if query.key not in keys:
                continue
            statement = compiled_statement(query.document, query.operation, query.variables)
            assert statement is not None, f"{query.key} is not compiled"
            sides = {"today": Side(conn, statement.sql, list(statement.args))}
            if save is not None:
                text = json.dumps({"sql": statement.sql, "args": statement.args}, default=str)
                (save / f"{query.key}.json").write_text(text)
            if against is not None:
                saved = json.loads((against / f"{query.key}.json").read_text())
                sides["saved"] = Side(conn, saved["sql"], _revive(saved["args"]))
            answers = {name: await side.prepare() for name, side in sides.items()}
            assert len(set(answers.values())) == 1, f"{query.key}: the saved statement answers otherwise"
            for _ in range(rounds):
                for side in sides.values():
                    await side.round(pid, executions)
            for name, side in sides.items():
                print(f"{query.key} {name}: {side.summary()}", flush=True)
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--queries", default="Q1,Q2,Q3,Q4,Q4c")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--executions", type=int, default=10, help="per round, for CPU and round trip")
    parser.add_argument("--save", type=Path)
    parser.add_argument("--against", type=Path)
    args = parser.parse_args()
    if args.save is not None:
        args.save.mkdir(parents=True, exist_ok=True)
    asyncio.run(measure(args.dsn, args.queries.split(","), args.rounds, args.executions, args.save, args.against))


if __name__ == "__main__":
    main()
