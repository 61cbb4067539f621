"""Q5 (``_entities`` ×100, bench/queries/q5_entities.graphql) in process, per execution path,
with new representations on every request (30 contact points, 30 cases, 20 districts, 10
stores, 10 enterprises, interleaved as bench/queries.py draws them, from a window that moves).

- ``plan + render``: what the compiled path spends before its statement the first time a set
  of entity types is asked (``Compiler.shape`` and ``render``); ``bound``: what every later
  request spends there (``schema.compiled.statement_for`` with the shape's statement kept:
  coerce, the representations' site, the parameters).
- per request through the app (Starlette's test client, the app's own pool and caches):
  wall time and this process's CPU time (the service's; PostgreSQL's is not in it), for
  ``LIAISON_EXECUTION=dataloader`` and ``compiled``; and the statements each sends.

``python -m bench.entities_cost --dsn postgresql://postgres@127.0.0.1:5432/DB [--requests N]``
(the database is prepared with the demo data when it is empty).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

import asyncpg
from graphql import parse
from graphql.execution.values import VariableValues, get_variable_values
from graphql.utilities import get_operation_ast
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.startup import prepare_database
from db.access import Role, Viewer
from db.compiled import render
from schema import schema
from schema.caches import DocumentCaches
from schema.compiled import HEADER, statement_for
from schema.engine import QueryEngine

from .peers import JWT_ENV
from .perf import bench_token

QUERY = Path(__file__).with_name("queries") / "q5_entities.graphql"
MAX_PAGE = 100


async def variants(dsn: str, count: int) -> list[list[dict[str, str]]]:
    """``count`` lists of 100 representations, each from keys ``i`` on of every type."""
    conn = await asyncpg.connect(dsn)
    try:
        points = [r[0] for r in await conn.fetch("SELECT code FROM contact_point ORDER BY id")]
        cases = [r[0] for r in await conn.fetch('SELECT number FROM "case" ORDER BY id')]
        districts = [r[0] for r in await conn.fetch("SELECT code FROM district ORDER BY code")]
        stores = [r[0] for r in await conn.fetch("SELECT code FROM store ORDER BY id")]
        enterprises = [r[0] for r in await conn.fetch("SELECT credit_code FROM enterprise ORDER BY id")]
    finally:
        await conn.close()
    found = []
    for i in range(count):

        def pick(keys: list[str], n: int, i: int = i) -> list[str]:
            return [keys[(i * 7 + j) % len(keys)] for j in range(n)]

        groups = [
            [{"__typename": "ContactPoint", "code": k} for k in pick(points, 30)],
            [{"__typename": "Case", "number": k} for k in pick(cases, 30)],
            [{"__typename": "District", "code": k} for k in pick(districts, 20)],
            [{"__typename": "Store", "code": k} for k in pick(stores, 10)],
            [{"__typename": "Enterprise", "creditCode": k} for k in pick(enterprises, 10)],
        ]
        mixed: list[dict[str, str]] = []
        while any(groups):
            for group in groups:
                if group:
                    mixed.append(group.pop(0))
        found.append(mixed)
    return found


def in_python(text: str, asked: list[list[dict[str, str]]]) -> tuple[float, float]:
    document = parse(text)
    operation = get_operation_ast(document)
    assert operation is not None
    compiler = QueryEngine(schema).compiler
    viewer = Viewer(Role.INTERNAL)

    def coerced(representations: list[dict[str, str]]) -> VariableValues:
        found = get_variable_values(
            compiler.schema, operation.variable_definitions or (), {"representations": representations}
        )
        assert not isinstance(found, list)
        return found

    start = time.process_time()
    for representations in asked:
        render(compiler.shape(document, operation, coerced(representations), viewer, MAX_PAGE).root, viewer)
    planned = (time.process_time() - start) / len(asked)
    caches = DocumentCaches()
    statement_for(caches, compiler, text, "Entities", document, operation, coerced(asked[0]), viewer, MAX_PAGE)
    start = time.process_time()
    for representations in asked:
        statement = statement_for(
            caches, None, text, "Entities", document, operation, coerced(representations), viewer, MAX_PAGE
        )
        assert statement is not None
    return planned, (time.process_time() - start) / len(asked)


def through_app(dsn: str, mode: str, text: str, asked: list[list[dict[str, str]]]) -> tuple[float, float, float, str]:
    settings = Settings.from_env({**os.environ, "DATABASE_URL": dsn, "LIAISON_EXECUTION": mode, **JWT_ENV})
    headers = {"authorization": f"Bearer {bench_token(sub='bench/entities_cost.py')}"}
    with TestClient(create_app(settings), headers=headers) as client:
        pool = client.app.state.db  # type: ignore[attr-defined]
        served: set[str] = set()

        def send(representations: list[Any]) -> None:
            response = client.post("/graphql", json={"query": text, "variables": {"representations": representations}})
            body = response.json()
            assert response.status_code == 200 and "errors" not in body and None not in body["data"]["_entities"], body
            served.add(response.headers[HEADER])

        for representations in asked[:20]:  # warm: the pool's connections, the caches
            send(representations)
        before = pool.statements
        wall, cpu = time.perf_counter(), time.process_time()
        for representations in asked:
            send(representations)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        statements = (pool.statements - before) / len(asked)
    return wall / len(asked), cpu / len(asked), statements, ",".join(sorted(served))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    asyncio.run(prepare_database(args.dsn, demo=True))
    asked = asyncio.run(variants(args.dsn, args.requests))
    text = QUERY.read_text()
    print(f"load average before: {Path('/proc/loadavg').read_text().split()[:3]}")
    planned, bound = in_python(text, asked)
    print(
        f"Q5 compiled, {len(asked)} distinct requests: plan + render {planned * 1e6:.0f} µs, bound {bound * 1e6:.0f} µs"
    )
    for mode in ("dataloader", "compiled", "dataloader", "compiled"):
        wall, cpu, statements, served = through_app(args.dsn, mode, text, asked)
        print(
            f"Q5 {mode:10} served {served:10} wall {wall * 1e3:6.2f} ms/request, service CPU {cpu * 1e3:6.2f} ms/request,"
            f" {statements:.1f} statements/request"
        )
    print(f"load average after: {Path('/proc/loadavg').read_text().split()[:3]}")


if __name__ == "__main__":
    main()
