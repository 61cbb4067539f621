"""The results of bench/perf.py and their Markdown tables (printed, and appended to RESULTS.md)."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

from .load import Run

__all__ = ["Results", "markdown"]

OURS = ("ours-compiled", "ours-dataloader")
PEERS = (*OURS, "postgraphile", "sql-floor")


@dataclass
class Results:
    mode: str
    command: str
    started: str
    runs: dict[tuple[str, int, str], list[Run]] = field(default_factory=dict)
    """(query, concurrency, peer) → one Run per round, in round order."""
    growth: dict[tuple[int, str, str], Run] = field(default_factory=dict)
    """(cases in the database, query, peer) → Run at concurrency 16."""
    growth_volume: dict[int, int] = field(default_factory=dict)
    """cases in the database → synthetic cases added to the demo."""
    workers: dict[tuple[str, int, str], list[Run]] = field(default_factory=dict)
    """(query, concurrency, "1 worker" | "2 workers") → one Run per round."""
    statements: dict[tuple[str, str], tuple[float, float]] = field(default_factory=dict)
    """(peer, query) → (data statements, all statements) per request, from the server log."""
    floor_source: dict[str, str] = field(default_factory=dict)
    execution: dict[tuple[str, str], str] = field(default_factory=dict)
    size: dict[tuple[str, str], int] = field(default_factory=dict)
    verdict: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)
    database: str = ""
    seconds: float = 0.0
    load_at_start: float = 0.0

    def add(self, query: str, concurrency: int, peer: str, run: Run) -> None:
        self.runs.setdefault((query, concurrency, peer), []).append(run)


def _median(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def _n(value: float, digits: int = 1) -> str:
    if math.isnan(value):
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _rps(runs: list[Run]) -> str:
    values = [r.rps for r in runs]
    text = _n(_median(values))
    if len(values) > 1:
        text += f" ({_n(min(values))}–{_n(max(values))})"
    return text


def _flag(runs: list[Run], concurrency: int) -> str:
    """A mark where a run finished fewer requests than it had connections: latency unreliable."""
    few = any(r.requests < concurrency for r in runs)
    failed = sum(r.errors for r in runs)
    return ("*" if few else "") + (f" ({failed} failed)" if failed else "")


def _queries(results: Results) -> list[str]:
    seen: list[str] = []
    for q, _, _ in results.runs:
        if q not in seen:
            seen.append(q)
    return seen


def _concurrencies(runs: dict[tuple[str, int, str], list[Run]]) -> list[int]:
    return sorted({c for _, c, _ in runs})


def main_table(results: Results) -> str:
    lines = [
        "| query | clients | peer | path | req/s (range) | p50 ms | p99 ms | server CPU ms/req | PG CPU ms/req "
        "| SQL/req (all) | peak RSS MB | response KB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for q in _queries(results):
        for c in _concurrencies(results.runs):
            for peer in PEERS:
                runs = results.runs.get((q, c, peer))
                if not runs:
                    continue
                data, every = results.statements.get((peer, q), (float("nan"), float("nan")))
                path = results.floor_source.get(q, "") if peer == "sql-floor" else results.execution.get((peer, q), "")
                size = results.size.get((peer, q))
                lines.append(
                    f"| {q} {results.titles.get(q, '')} | {c} | {peer} | {path} | {_rps(runs)}{_flag(runs, c)} "
                    f"| {_n(_median([r.p50_ms for r in runs]))} | {_n(_median([r.p99_ms for r in runs]))} "
                    f"| {_n(_median([r.server_cpu_ms for r in runs]), 2)} | {_n(_median([r.pg_cpu_ms for r in runs]), 2)} "
                    f"| {_n(data, 1)} ({_n(every, 1)}) | {_n(max(r.rss_mb for r in runs), 0)} "
                    f"| {'' if size is None else _n(size / 1024, 1)} |"
                )
    return "\n".join(lines)


def _ratio(results: Results, q: str, c: int, a: str, b: str) -> float:
    """Median over rounds of a's req/s over b's in the same round."""
    ra, rb = results.runs.get((q, c, a)), results.runs.get((q, c, b))
    if not ra or not rb:
        return float("nan")
    return _median([x.rps / y.rps if y.rps else float("nan") for x, y in zip(ra, rb, strict=False)])


def ratio_table(results: Results) -> str:
    pairs = [
        ("ours-compiled", "postgraphile"),
        ("ours-dataloader", "postgraphile"),
        ("ours-compiled", "sql-floor"),
        ("ours-dataloader", "sql-floor"),
        ("postgraphile", "sql-floor"),
    ]
    head = " | ".join(f"{a} / {b}" for a, b in pairs)
    lines = [f"| query | clients | {head} |", "|---|---|" + "---|" * len(pairs)]
    for q in _queries(results):
        for c in _concurrencies(results.runs):
            cells = [_ratio(results, q, c, a, b) for a, b in pairs]
            if all(math.isnan(x) for x in cells):
                continue
            lines.append(
                f"| {q} | {c} | " + " | ".join(_n(x, 2) + ("×" if not math.isnan(x) else "") for x in cells) + " |"
            )
    return "\n".join(lines)


def growth_table(results: Results) -> str:
    lines = [
        "| cases in the database (volume added) | query | peer | req/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for (cases, q, peer), run in sorted(
        results.growth.items(), key=lambda kv: (kv[0][0], kv[0][1], PEERS.index(kv[0][2]))
    ):
        volume = results.growth_volume.get(cases, 0)
        lines.append(
            f"| {cases:,} ({volume:,}) | {q} {results.titles.get(q, '')} | {peer} | {_n(run.rps)} | {_n(run.p50_ms)} | {_n(run.p99_ms)} |"
        )
    return "\n".join(lines)


def workers_table(results: Results) -> str:
    lines = [
        "| query | clients | path 1 / 2 | 1 worker req/s | 2 workers req/s | 2 / 1 | CPU ms/req 1 / 2 | peak RSS MB 1 / 2 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for q, c in sorted({(q, c) for q, c, _ in results.workers}):
        one, two = results.workers.get((q, c, "1 worker"), []), results.workers.get((q, c, "2 workers"), [])
        if not one or not two:
            continue
        ratio = _median([b.rps / a.rps if a.rps else float("nan") for a, b in zip(one, two, strict=False)])
        paths = f"{results.execution.get(('ours-compiled', q), '?')} / {results.execution.get(('ours-compiled-2-workers', q), '?')}"
        lines.append(
            f"| {q} {results.titles.get(q, '')} | {c} | {paths} | {_rps(one)} | {_rps(two)} | {_n(ratio, 2)}× "
            f"| {_n(_median([r.server_cpu_ms for r in one]), 2)} / {_n(_median([r.server_cpu_ms for r in two]), 2)} "
            f"| {_n(max(r.rss_mb for r in one), 0)} / {_n(max(r.rss_mb for r in two), 0)} |"
        )
    return "\n".join(lines)


def _bullets(items: list[Any]) -> str:
    return "\n".join(f"- {x}" for x in items)


def markdown(results: Results) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in results.versions.items())
    parts = [
        f"## PostGraphile v5 against ours (`bench/perf.py`{' --quick' if results.mode == 'quick' else ''}), {results.started}",
        "",
        f"```sh\n{results.command}\n```",
        "",
        f"{results.database} Took {results.seconds / 60:.1f} min in all. Versions: {versions}.",
        "",
        "Median over rounds (req/s: lowest–highest round). CPU per request: the peer's process tree "
        "(the SQL floor: its asyncpg driver) and PostgreSQL's (postmaster and every child), from /proc. "
        "SQL/req: statements that read data per request (in brackets all statements, BEGIN/SET/the pool's reset "
        "included), from the server log in a separate untimed pass. path: the `X-Liaison-Execution` header of our "
        "answer (absent: the service does not send it yet); for the floor, where its statements came from. "
        "`*`: a run finished fewer requests than it had connections, so its latency and rate are rough.",
        "",
        main_table(results),
        "",
        "Throughput ratios, each taken within a round, then the median over rounds:",
        "",
        ratio_table(results),
        "",
    ]
    if results.growth:
        parts += ["Growth: concurrency 16, as the case volume grows (one round per size but the last, "
                  "whose figures are the main table's):", "", growth_table(results), ""]  # fmt: skip
    if results.workers:
        parts += ["Workers: ours-compiled with one uvicorn worker (`liaison serve`) against two "
                  "(`uvicorn --factory api.asgi:app --workers 2`), alternated:", "", workers_table(results), ""]  # fmt: skip
    parts += ["Checks before timing:", "", _bullets([f"{q}: {v}" for q, v in results.verdict.items()]), ""]
    if results.problems:
        parts += ["**Problems found** (timed anyway, with --keep-going):", "", _bullets(results.problems), ""]
    if results.notes:
        parts += ["Notes:", "", _bullets(results.notes), ""]
    return "\n".join(parts)
