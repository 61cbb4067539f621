"""Q3 in the identical and the varied regime, for our compiled service alone: what keeping
one statement per variable shape (instead of one per exact variables) changes over HTTP.

One ``liaison serve`` process in compiled mode over ``--dsn`` (the demo data is enough);
wrk (bench/load.py's ``run_wrk``, bodies checked) at ``--concurrency`` for ``--duration``
seconds per run, the regimes alternated for ``--rounds`` rounds after a warm-up of each.
The varied regime cycles through ``--variants`` bodies: 1,000 contact-point codes drawn from
the database and 5 to 20 cases a page (as bench/varied.py draws Q3's); more than 1,000 are
distinct (code, cases) pairs, up to 16,000, more than the caches keep. ``--src DIR`` runs another
checkout's code (its directory first on PYTHONPATH; ``git archive main | tar -x -C DIR``),
for the figures before a change. CPU per request is the service's process alone: the
PostgreSQL of ``--dsn`` may be shared.

    .venv/bin/python -m bench.shape_regimes --dsn postgresql://…/shape [--src /tmp/main]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
from pathlib import Path

import asyncpg

from .load import BODIES, run_wrk
from .peers import start_ours, stop
from .perf import bench_token
from .queries import Request

QUERY = (Path(__file__).with_name("queries") / "q3_detail.graphql").read_text()
CODES = 1000


async def _codes(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT code FROM contact_point ORDER BY md5(code) LIMIT $1", CODES)
    finally:
        await conn.close()
    return [r[0] for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.shape_regimes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--src", help="run this checkout's code instead (first on PYTHONPATH)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--variants", type=int, default=1000, help="bodies of the varied regime (distinct when <= 16,000)"
    )
    args = parser.parse_args()

    codes = asyncio.run(_codes(args.dsn))
    rng = random.Random(20)  # noqa: S311 (a reproducible draw, not a secret)
    pairs = [(code, cases) for code in codes for cases in range(5, 21)]
    if args.variants <= CODES:
        chosen = [(codes[i % len(codes)], rng.randint(5, 20)) for i in range(args.variants)]
    else:  # distinct (code, cases) pairs, in random order
        chosen = rng.sample(pairs, min(args.variants, len(pairs)))
    bodies = [{"query": QUERY, "operationName": "Detail", "variables": {"code": c, "cases": n}} for c, n in chosen]
    BODIES.mkdir(parents=True, exist_ok=True)
    varied = BODIES / f"shape_regimes_q3_{len(bodies)}.jsonl"
    varied.write_text("".join(json.dumps(b, ensure_ascii=False) + "\n" for b in bodies))
    identical = {**bodies[0], "variables": {"code": codes[0], "cases": 10}}
    headers = {"content-type": "application/json", "authorization": f"Bearer {bench_token()}"}
    request = Request("POST", "/graphql", json.dumps(identical, ensure_ascii=False).encode(), headers)

    env = {"PYTHONPATH": args.src} if args.src else None
    peer = start_ours("ours-compiled", args.dsn, "compiled", 1, env)
    try:
        runs: dict[str, list[object]] = {"identical": [], "varied": []}
        for regime in ("identical", "varied"):  # warm-up: every body once at least
            run_wrk(peer, request, args.concurrency, 4, None, bodies=varied if regime == "varied" else None)
        print(f"load average at start: {os.getloadavg()}", flush=True)
        for round_ in range(args.rounds):
            order = ("identical", "varied") if round_ % 2 == 0 else ("varied", "identical")
            for regime in order:
                run = run_wrk(
                    peer, request, args.concurrency, args.duration, None, bodies=varied if regime == "varied" else None
                )
                runs[regime].append(run)
                print(
                    f"round {round_ + 1} {regime:9} {run.rps:7.0f} req/s  p50 {run.p50_ms:6.1f} ms  "
                    f"p99 {run.p99_ms:6.1f} ms  server CPU {run.server_cpu_ms:.2f} ms/req  "
                    f"errors {run.errors} (checked {run.checked})",
                    flush=True,
                )
        print(f"load average at end: {os.getloadavg()}", flush=True)
    finally:
        stop(peer)


if __name__ == "__main__":
    main()
