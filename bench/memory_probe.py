"""The distinct-document memory probe (issue 15, point 5): can one anonymous client pin memory?

Posts N distinct, valid documents of a given size to ``/graphql`` without a credential and
reads the server's resident memory (``VmRSS`` in ``/proc/<pid>/status``) before and after.
Each document is a realistic worst case within the default limits: 50 aliases (the most
allowed) of ``district(code: …) { code name }``, each alias name padded to fill the size,
and every name unique to its document, so no two documents share text, a parse, a
measure or a compiled statement. They cost 50 points each (one object per alias) and
run on the compiled path; a comment of the same size would be cheaper to parse and keep.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/liaison_demo .venv/bin/python -m bench.memory_probe
    .venv/bin/python -m bench.memory_probe --count 6000 --size 95000 --clients 4

The database must hold the demo data (``liaison demo``). ``run()`` probes a server that is
already up (``bench/faults.py`` calls it); ``main()`` starts ``liaison serve`` for the run.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import secrets
import time
from pathlib import Path
from typing import Any

import httpx2

from bench.saved_queries import server

__all__ = ["document", "rss_mb", "run"]

DISTRICTS = ("310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112", "310113", "310115")
ALIASES = 50
"""LIAISON_MAX_ALIASES' default: the most names a document may give its fields."""


def document(index: int, size: int) -> str:
    """A valid query of about ``size`` characters whose every alias is unique to ``index``."""

    def text(pad: str) -> str:
        fields = (
            f'd{index:08d}_{k:03d}_{pad}: district(code: "{DISTRICTS[k % len(DISTRICTS)]}") {{ code name }}'
            for k in range(ALIASES)
        )
        return f"query Probe{index} {{ " + " ".join(fields) + " }"

    return text("x" * max((size - len(text(""))) // ALIASES, 1))


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` now, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def run(base_url: str, pid: int, count: int, size: int, clients: int = 4, first: int | None = None) -> dict[str, Any]:
    """Post ``count`` distinct documents of ``size`` characters to ``base_url`` anonymously
    and read the RSS of ``pid`` before and after (after a second's pause). Documents are
    numbered from ``first``, by default a random number, so that each run's are new."""
    first = secrets.randbelow(10**9) * 10**5 if first is None else first
    before = rss_mb(pid)
    started = time.monotonic()
    answers, budget = asyncio.run(_send(base_url, range(first, first + count), size, clients))
    seconds = time.monotonic() - started
    time.sleep(1)
    by_status: dict[str, dict[str, int]] = {}
    for (status, code), n in sorted(answers.items(), key=lambda item: (item[0][0], str(item[0][1]))):
        by_status.setdefault(str(status), {})[code or "-"] = n
    return {
        "requests": count,
        "document_chars": len(document(0, size)),
        "answers": by_status,
        "uncoded_5xx": sum(n for (status, code), n in answers.items() if status >= 500 and not code),
        "rss_before_mb": round(before, 1),
        "rss_after_mb": round(rss_mb(pid), 1),
        "budget_remaining": budget,
        "seconds": round(seconds, 1),
    }


async def _send(base_url: str, indexes: range, size: int, clients: int) -> tuple[collections.Counter, int | None]:
    answers: collections.Counter[tuple[int, str | None]] = collections.Counter()
    remaining: list[int] = []
    pending = iter(indexes)

    async def client(http: httpx2.AsyncClient) -> None:
        for index in pending:
            try:
                response = await http.post("/graphql", json={"query": document(index, size)})
            except httpx2.HTTPError as exc:
                answers[(0, type(exc).__name__)] += 1
                continue
            answers[(response.status_code, _code(response))] += 1
            if "x-ratelimit-remaining" in response.headers:
                remaining.append(int(response.headers["x-ratelimit-remaining"]))

    limits = httpx2.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx2.AsyncClient(base_url=base_url, timeout=60, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return answers, (min(remaining) if remaining else None)


def _code(response: httpx2.Response) -> str | None:
    """The first error's ``extensions.code``, or None (for a plain 5xx: an uncoded one)."""
    try:
        errors = response.json().get("errors") or []
    except ValueError:
        return None
    if not errors:
        return "ok"
    return (errors[0].get("extensions") or {}).get("code")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory_probe", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=6000, help="distinct documents to post")
    parser.add_argument("--size", type=int, default=95_000, help="characters per document")
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    args = parser.parse_args()
    dsn = os.environ.get("DATABASE_URL")
    if not dsn:
        raise SystemExit("set DATABASE_URL to a database loaded with `liaison demo`")
    with server(dsn, {"LIAISON_DEMO_DATA": "0"}) as (base, pid):
        result = run(base, pid, args.count, args.size, args.clients)
    for name, value in result.items():
        print(f"{name}: {value}")


if __name__ == "__main__":
    main()
