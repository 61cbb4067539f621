"""bench/report.py's regime table (our varied regime over the identical one, round by
round), and the order of a round's runs in bench/perf.py."""

from __future__ import annotations

from bench.load import Run
from bench.perf import rotated
from bench.report import Results, markdown, regime_table


def _run(rps: float, cpu_ms: float) -> Run:
    return Run(rps, 5.0, 10.0, int(rps * 5), 0, cpu_ms / 2, cpu_ms / 2, 100.0, 5.0)


def test_each_round_is_compared_with_its_own_pair() -> None:
    results = Results("benchmark", "bench.perf", "now")
    for identical, varied in ((1000, 900), (2000, 2100), (1500, 1500)):
        results.add("Q3", "identical", 1, 16, "ours-compiled", _run(identical, 0.5))
        results.add("Q3", "varied", 1, 16, "ours-compiled", _run(varied, 0.6))
        results.add("Q3", "identical", 1, 16, "postgraphile", _run(500, 1.0))
        results.add("Q3", "varied", 1, 16, "postgraphile", _run(500, 1.0))

    table = regime_table(results)

    # Per round 0.90, 1.05, 1.00: their median, not the ratio of the regimes' medians (1500 / 1500).
    assert (
        "| 1 | Q3 | 16 | ours-compiled | 1.00× (0.90–1.05) | 1.20× (1.20–1.20) | 1.20× (1.20–1.20) | 1.20× (1.20–1.20) |"
        in table
    )
    assert "postgraphile" not in table
    assert table in markdown(results)


def test_no_table_without_both_regimes() -> None:
    results = Results("benchmark", "bench.perf", "now")
    results.add("Q3", "identical", 1, 16, "ours-compiled", _run(1000, 0.5))

    assert regime_table(results) == ""
    assert "Our regimes" not in markdown(results)


def test_a_run_of_ours_alone_is_titled_so_and_has_no_empty_ratio_table() -> None:
    results = Results("benchmark", "bench.perf", "now")
    results.add("Q3", "identical", 1, 16, "ours-compiled", _run(1000, 0.5))
    results.add("Q3", "varied", 1, 16, "ours-compiled", _run(990, 0.5))

    report = markdown(results)

    assert "PostGraphile v5 against ours" not in report
    assert "## ours-compiled (`bench/perf.py`, the benchmark)" in report
    assert "Ratios, each taken within a round" not in report
    assert "| 1 | Q3 | 16 | ours-compiled | 0.99×" in report


def test_no_regime_and_no_peer_always_runs_first() -> None:
    orders = [rotated(("identical", "varied"), r) for r in range(4)]
    peers = [rotated(("ours-compiled", "postgraphile", "replay-ours"), r)[0] for r in range(3)]

    assert orders == [["identical", "varied"], ["varied", "identical"]] * 2
    assert peers == ["ours-compiled", "postgraphile", "replay-ours"]
    assert rotated((), 3) == []
