"""Statements per request at the 1,000,000-case scale: the figure CI cannot afford.

tests/test_batching.py proves on the demo (+30,000 cases) that a request's statement count
follows the query's shape; this runs the same queries against a database holding the
volume subcommand's million cases and prints the counts beside the demo's.

    liaison volume                       # once: the embedded cluster gets 1,000,000 cases
    .venv/bin/python -m bench.statement_counts "$DSN_OF_DEMO" "$DSN_OF_VOLUME"
"""

from __future__ import annotations

import sys
import time

from tests.support import app_state, data, service
from tests.test_batching import DASHBOARD, SHANGHAI, STATS, district_ids


def measure(dsn: str) -> dict[str, tuple[int, float]]:
    found = {}
    with service(dsn, LIAISON_DB_TIMEOUT="60") as client:
        db = app_state(client).db
        total = data(client, "{ cases(first: 0) { totalCount } }")["cases"]["totalCount"]
        print(f"{dsn}: {total:,} cases")
        for name, query, codes in (
            ("dashboard, 1 district", DASHBOARD, ["310104"]),
            ("dashboard, 16 districts", DASHBOARD, SHANGHAI),
            ("stats, 1 district", STATS, ["310115"]),
            ("stats, 16 districts", STATS, SHANGHAI),
        ):
            before, started = db.statements, time.monotonic()
            data(client, query, ids=district_ids(codes))
            found[name] = (db.statements - before, time.monotonic() - started)
    return found


def main() -> None:
    results = [measure(dsn) for dsn in sys.argv[1:]]
    for name in results[0]:
        print(f"{name:26}" + "".join(f"{r[name][0]:>4} statements {r[name][1]:6.2f}s   " for r in results))


if __name__ == "__main__":
    main()
