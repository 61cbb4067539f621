"""The results of bench/perf.py and their Markdown tables (printed, and appended to RESULTS.md)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from .load import Run

__all__ = ["Results", "markdown"]

PEERS = (
    "ours-compiled",
    "ours-unkept",
    "ours-dataloader",
    "postgraphile",
    "postgraphile-defaults",
    "ariadne-dataloader",
    "joinmonster",
    "replay-ours",
    "replay-postgraphile",
)
RATIOS = (
    ("ours-compiled", "postgraphile"),
    ("ours-unkept", "postgraphile"),
    ("ours-dataloader", "postgraphile"),
    ("ours-dataloader", "ariadne-dataloader"),
    ("ours-compiled", "joinmonster"),
    ("ours-compiled", "replay-ours"),
    ("postgraphile", "replay-postgraphile"),
    ("postgraphile", "postgraphile-defaults"),
)

CPU_RATIOS = (("ours-compiled", "postgraphile"), ("ours-unkept", "postgraphile"), ("ours-compiled", "joinmonster"))
"""Server + PostgreSQL CPU per request, ours against the peers that plan one statement per request."""

Key = tuple[str, str, int, int, str]
"""(query, regime, processes per peer, concurrency, peer)."""


@dataclass
class Results:
    mode: str
    command: str
    started: str
    runs: dict[Key, list[Run]] = field(default_factory=dict)
    """One Run per round, in round order."""
    statements: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    """(peer, query) → (data statements, all statements) per request, from the server log."""
    replay_source: dict[tuple[str, str], str] = field(default_factory=dict)
    execution: dict[tuple[str, str], str] = field(default_factory=dict)
    size: dict[tuple[str, str], int] = field(default_factory=dict)
    verdict: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    variants: dict[str, int] = field(default_factory=dict)
    """query → how many variants the varied regime cycles through."""
    parts: list[tuple[str, float, float]] = field(default_factory=list)
    """(part, load average at its start, at its end)."""
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    database: str = ""
    seconds: float = 0.0
    load_at_start: float = 0.0
    check_every: int = 10
    wrk_cpus: str | None = None
    autogroups: str = "as found"
    """The kernel's autogroups during the run (``bench.procs.autogroups``)."""
    node_flags: str = ""
    pool_size: int | None = None
    our_pools: dict[int, int] = field(default_factory=dict)
    """processes → our pool's size in each when ``pool_size`` is None (``db.pool.pool_size_for``)."""

    def add(self, query: str, regime: str, workers: int, concurrency: int, peer: str, run: Run) -> None:
        self.runs.setdefault((query, regime, workers, concurrency, peer), []).append(run)


def _median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def _n(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _range(values: list[float], digits: int = 1, unit: str = "") -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "—"
    text = _n(_median(values), digits) + unit
    if len(values) > 1:
        text += f" ({_n(min(values), digits)}–{_n(max(values), digits)})"
    return text


def _groups(results: Results) -> list[tuple[str, str, int, int]]:
    """(query, regime, processes, concurrency) in the order they were first measured."""
    seen: list[tuple[str, str, int, int]] = []
    for q, regime, w, c, _ in results.runs:
        if (q, regime, w, c) not in seen:
            seen.append((q, regime, w, c))
    return sorted(seen, key=lambda g: (g[1] != "identical", g[2], g[0], g[3]))


def _failures(runs: list[Run], concurrency: int) -> str:
    """Failures, bodies checked, and ``*`` where a run finished fewer requests than it had
    connections (its rate and latency are rough; with none, its ratios are left out)."""
    failed, bad, checked = sum(r.errors for r in runs), sum(r.bad_bodies for r in runs), sum(r.checked for r in runs)
    few = "*" if any(r.requests < concurrency for r in runs) else ""
    return f"{failed} ({bad} of {checked} bodies){few}" if checked else f"{failed}{few}"


def main_table(results: Results) -> str:
    lines = [
        "| regime | procs | query | clients | peer | path | req/s (range) | p50 ms | p99 ms | server CPU ms/req "
        "| PG CPU ms/req | server+PG CPU ms/req | machine busy (cores) | SQL/req (all) | peak RSS MB "
        "| failures (bad of checked bodies) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for q, regime, w, c in _groups(results):
        for peer in PEERS:
            runs = results.runs.get((q, regime, w, c, peer))
            if not runs:
                continue
            data, every = results.statements.get((peer, q), (float("nan"), float("nan")))
            path = (
                results.replay_source.get((peer, q), "")
                if peer.startswith("replay")
                else results.execution.get((peer, q), "")
            )
            lines.append(
                f"| {regime} | {w} | {q} {results.titles.get(q, '')} | {c} | {peer} | {path} | {_range([r.rps for r in runs])} "
                f"| {_n(_median([r.p50_ms for r in runs]))} | {_n(_median([r.p99_ms for r in runs]))} "
                f"| {_n(_median([r.server_cpu_ms for r in runs]), 2)} | {_n(_median([r.pg_cpu_ms for r in runs]), 2)} "
                f"| {_range([r.cpu_ms for r in runs], 2)} | {_n(_median([r.machine_cores for r in runs]), 2)} "
                f"| {_n(data, 1)} ({_n(every, 1)}) | {_n(max(r.rss_mb for r in runs), 0)} | {_failures(runs, c)} |"
            )  # fmt: skip
    return "\n".join(lines)


def _ratios(results: Results, g: tuple[str, str, int, int], a: str, b: str, measure: str) -> list[float]:
    """a's figure over b's, each round's own runs."""
    q, regime, w, c = g
    return _paired(results.runs.get((q, regime, w, c, a)), results.runs.get((q, regime, w, c, b)), measure)


def _paired(ra: list[Run] | None, rb: list[Run] | None, measure: str) -> list[float]:
    """Each round's ``ra`` run's figure over its ``rb`` run's."""
    if not ra or not rb:
        return []
    return [getattr(x, measure) / getattr(y, measure) if x.requests and y.requests and getattr(y, measure) else float("nan")
            for x, y in zip(ra, rb, strict=False)]  # fmt: skip


def _peers(results: Results) -> list[str]:
    return [p for p in PEERS if any(k[4] == p for k in results.runs)]


def ratio_table(results: Results) -> str:
    """Each pair of peers that both ran, per round; empty when no pair did (ours alone)."""
    ran = _peers(results)
    pairs = [p for p in RATIOS if p[0] in ran and p[1] in ran]
    if not pairs:
        return ""
    cpu_pairs = [p for p in CPU_RATIOS if p in pairs]
    head = " | ".join([f"{a} / {b}" for a, b in pairs] + [f"CPU/req {a} / {b}" for a, b in cpu_pairs])
    lines = [
        f"| regime | procs | query | clients | {head} |",
        "|---|---|---|---|" + "---|" * (len(pairs) + len(cpu_pairs)),
    ]
    for g in _groups(results):
        cells = [_range(_ratios(results, g, a, b, "rps"), 2, "×") for a, b in pairs]
        cells += [_range(_ratios(results, g, a, b, "cpu_ms"), 2, "×") for a, b in cpu_pairs]
        if all(x == "—" for x in cells):
            continue
        lines.append(f"| {g[1]} | {g[2]} | {g[0]} | {g[3]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def regime_table(results: Results) -> str:
    """Each of our peers in the varied regime over the identical one, per round: the two
    runs of a round are back to back (``bench.perf.rounds``)."""
    lines = [
        "| procs | query | clients | peer | req/s varied / identical | CPU/req varied / identical | of which server | of which PostgreSQL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for q, _, w, c in (g for g in _groups(results) if g[1] == "varied"):
        for peer in (p for p in PEERS if p.startswith("ours")):
            varied, identical = (
                results.runs.get((q, "varied", w, c, peer)),
                results.runs.get((q, "identical", w, c, peer)),
            )
            if varied and identical:
                cells = [
                    _range(_paired(varied, identical, measure), 2, "×")
                    for measure in ("rps", "cpu_ms", "server_cpu_ms", "pg_cpu_ms")
                ]
                lines.append(f"| {w} | {q} | {c} | {peer} | " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def _bullets(items: list[Any]) -> str:
    return "\n".join(f"- {x}" for x in items)


def markdown(results: Results) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in results.versions.items())
    loads = "; ".join(f"{part}: {a:.2f} → {b:.2f}" for part, a, b in results.parts)
    variants = ", ".join(f"{k} {v:,}" for k, v in results.variants.items())
    ours = ", ".join(f"{size} each at {workers}" for workers, size in sorted(results.our_pools.items()))
    pool_text = (
        f"each peer's default: ours {ours} processes (sized for the PostgreSQL it shares the cores with), the others 10 per process"
        if results.pool_size is None
        else f"{results.pool_size} per process, every peer"
    )
    title = "smoke run: proves the harness, not a result" if results.mode == "smoke" else "the benchmark"
    ran = _peers(results)
    with_ours = any(p.startswith("ours") for p in ran)
    peers = "PostGraphile v5 against ours" if with_ours and "postgraphile" in ran else ", ".join(ran) or "no peer"
    parts = [
        f"## {peers} (`bench/perf.py`, {title}), {results.started}",
        "",
        f"```sh\n{results.command}\n```",
        "",
        f"{results.database} Load average (1 min) {results.load_at_start:.2f} at the start; per part, start → end: "
        f"{loads}. Took {results.seconds / 60:.1f} min in all. wrk pinned to CPUs: {results.wrk_cpus or 'no'}; "
        f"scheduler autogroups: {results.autogroups}; "
        f"node flags: {results.node_flags or 'none'}; pools: {pool_text}; one body in {results.check_every} checked during timing. "
        f"Varied regime: {variants or 'not run'} variants. Versions: {versions}.",
        "",
        "Median over rounds (range: lowest–highest round). procs: processes per peer (ours: `liaison serve "
        "--workers N`; PostGraphile: `node:cluster` workers). CPU per request: the peer's process tree (a replay: "
        "its asyncpg driver) and PostgreSQL's (postmaster and every child), from /proc. machine busy: cores the "
        "whole machine kept busy during the run (wrk, the peer, PostgreSQL, anything else; /proc/stat). SQL/req: statements that "
        "read data per request (in brackets all statements), from the server log in an untimed pass. path: the "
        "`X-Liaison-Execution` header of our answer; for a replay, where its statements came from.",
        "",
        main_table(results),
        "",
    ]
    ratios = ratio_table(results)
    if ratios:
        parts += [
            "Ratios, each taken within a round (req/s, and server+PostgreSQL CPU per request), median (range) over rounds:",
            "",
            ratios,
            "",
        ]
    regimes = regime_table(results)
    if regimes:
        parts += [
            "Our regimes: the varied regime over the identical one, each round's two runs back to back, median (range):",
            "",
            regimes,
            "",
        ]
    parts += [
        "Checks before timing:",
        "",
        _bullets([f"{q}: {v}" for q, v in results.verdict.items()]),
        "",
    ]
    if results.problems:
        parts += ["**Problems found** (timed anyway, with --keep-going):", "", _bullets(results.problems), ""]
    if results.notes:
        parts += ["Notes:", "", _bullets(results.notes), ""]
    return "\n".join(parts)
