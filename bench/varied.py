"""The varied regime: each query's variables drawn from the benchmark database beforehand.

A detail page that varies its ``code`` or a list that pages with a cursor is what a real
client sends; a cache keyed by exact values (a rendered statement, a plan) is then as good
as its hit rate, which the identical regime hides. Per query, up to ``VARIANTS`` sets:

- Q1: contact points per district (10–30) and cases per point (1–9);
- Q2: page size (30–70) and a cursor into the five-star list (or none) with a whole page
  after it, the cursors read from each peer's own connection beforehand (they are opaque and
  differ), position by position;
- Q3: 1,000 contact-point codes (every point when there are fewer), cases per page (5–15);
- Q4: every region with districts.

Page sizes are drawn around the identical regime's (``_around``), so that the two regimes
ask for as many rows on average: a comparison of the regimes then measures what varying
costs, not what a longer page costs (before 2026-12-06 Q2's pages averaged 30 rows against
the identical 50, some cut short by the list's end; Q3's 12.5 cases against 10). Which rows
still differs: Q3's identical point is richer than most, Q4's regions have 2 to 16 districts.

The draw is seeded, so two runs send the same sequence. Each peer's variables for one
variant mean the same data (checked on a sample before timing, bench/check.py).
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from .peers import BENCH, Peer, send
from .queries import BenchQuery, Request

__all__ = ["VARIANTS", "Variant", "draw", "write_bodies"]

VARIANTS = 1000
SEED = 20
CURSOR_PAGE = 100
"""The largest page our connections give (and the step the cursors are read in)."""
BODIES = BENCH / ".data" / "varied"


@dataclass(frozen=True)
class Variant:
    ours: dict[str, Any]
    postgraphile: dict[str, Any] | None


async def _values(dsn: str) -> tuple[list[str], list[str]]:
    conn = await asyncpg.connect(dsn)
    try:
        codes = [r[0] for r in await conn.fetch("SELECT code FROM contact_point ORDER BY md5(code) LIMIT $1", VARIANTS)]
        regions = [r[0] for r in await conn.fetch("SELECT DISTINCT region_code FROM district ORDER BY 1")]
    finally:
        await conn.close()
    return codes, regions


_OURS_CURSORS = """query C($after: String) { contactPoints(first: 100, after: $after, filter: {currentStars: [FIVE]}) {
  edges { cursor } pageInfo { hasNextPage endCursor } } }"""
_PG_CURSORS = """query C($after: Cursor) { allContactPointCurrentRatings(first: 100, after: $after, condition: {stars: 5},
  orderBy: CONTACT_POINT_ID_ASC) { edges { cursor } pageInfo { hasNextPage endCursor } } }"""


def _cursors(peer: Peer, document: str, field: str, q: BenchQuery, limit: int) -> list[str]:
    found: list[str] = []
    after = None
    while len(found) < limit:
        body = json.dumps({"query": document, "variables": {"after": after}}).encode()
        response = send(peer, Request("POST", "/graphql", body, {"content-type": "application/json", **q.auth}))
        answer = response.json()
        if response.status != 200 or answer.get("errors"):
            raise SystemExit(f"reading {peer.name}'s cursors failed: {response.status} {response.body[:500]!r}")
        page = answer["data"][field]
        found += [e["cursor"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    return found[:limit]


def _around(rng: random.Random, value: int, spread: int) -> int:
    """A page size from ``value - spread`` to ``value + spread``, ``value`` on average."""
    return rng.randint(value - spread, value + spread)


def draw(dsn: str, queries: list[BenchQuery], ours: list[Peer], postgraphile: Peer | None) -> dict[str, list[Variant]]:
    """query key → its variants (Q1–Q4; the others have no varied form). Every one of ``ours``
    is asked the same cursor pages (our peers must see the same requests, budget included)."""
    codes, regions = asyncio.run(_values(dsn))
    rng = random.Random(SEED)  # noqa: S311 (a reproducible draw, not a secret)
    by_key = {q.key: q for q in queries}
    found: dict[str, list[Variant]] = {}
    pg = postgraphile is not None

    def both(variables: dict[str, Any], pg_variables: dict[str, Any] | None = None) -> Variant:
        return Variant(variables, (pg_variables if pg_variables is not None else variables) if pg else None)

    if "Q1" in by_key:
        same = by_key["Q1"].variables
        found["Q1"] = [
            both({"points": _around(rng, same["points"], 10), "cases": _around(rng, same["cases"], 4)})
            for _ in range(VARIANTS)
        ]
    if "Q2" in by_key:
        q = by_key["Q2"]
        mine, *others = [_cursors(peer, _OURS_CURSORS, "contactPoints", q, VARIANTS) for peer in ours]
        if any(other != mine for other in others):
            raise SystemExit("our peers give different cursors for the same five-star list")
        theirs = (
            mine
            if postgraphile is None
            else _cursors(postgraphile, _PG_CURSORS, "allContactPointCurrentRatings", q, VARIANTS)
        )
        positions = min(len(mine), len(theirs))
        variants = []
        for _ in range(VARIANTS):
            first = _around(rng, q.variables["first"], 20)
            at = rng.randint(-1, max(positions - first - 1, -1))  # a whole page after it (90 five-star points here)
            variants.append(
                both(
                    {"first": first, "after": mine[at] if at >= 0 else None},
                    {"first": first, "after": theirs[at] if at >= 0 else None},
                )
            )
        found["Q2"] = variants
    if "Q3" in by_key:
        cases = by_key["Q3"].variables["cases"]
        found["Q3"] = [both({"code": codes[i % len(codes)], "cases": _around(rng, cases, 5)}) for i in range(VARIANTS)]
    if "Q4" in by_key:
        found["Q4"] = [both({"region": regions[i % len(regions)]}) for i in range(len(regions))]
    return found


def write_bodies(q: BenchQuery, variants: list[Variant], side: str) -> Path:
    """The request bodies of ``side`` ("ours" or "postgraphile"), one a line, for bench/wrk.lua."""
    BODIES.mkdir(parents=True, exist_ok=True)
    path = BODIES / f"{q.key}-{side}.jsonl"
    lines = []
    for v in variants:
        request = q.ours_with(v.ours) if side == "ours" else q.postgraphile_with(v.postgraphile or {})
        assert request.body is not None and b"\n" not in request.body
        lines.append(request.body.decode())
    path.write_text("\n".join(lines) + "\n")
    return path
