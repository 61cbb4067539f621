"""bench/faults.py end to end in its smallest form: a frozen database under a little load.

The script's long run gives the README's fault figures; this keeps its quick form working
and its report honest: every request accounted for, the fault seen as a coded answer, the
recovery measured. It runs its own embedded server (whatever TEST_DATABASE_URL says).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).absolute().parent.parent


def test_quick_frozen_database_reports_coded_answers_and_recovery(tmp_path: Path) -> None:
    out = tmp_path / "faults.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.faults", "--quick", "frozen", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    report = json.loads(out.read_text())
    # Exit code 1 exactly when a scenario failed (an uncoded 5xx, or no recovery in its bound).
    assert (done.returncode == 1) == bool(report["failed"]), done.stdout
    [frozen] = report["scenarios"]
    assert frozen["name"] == "frozen" and frozen["ran"], frozen
    assert "== frozen" in done.stdout

    answers = frozen["answers"]
    assert set(answers) == {"/graphql", "/queries/FaultRegions"}, answers
    # Every request sent ended as exactly one answer or connection failure.
    assert sum(n for by_answer in answers.values() for n in by_answer.values()) == frozen["sent"] > 0
    graphql = answers["/graphql"]
    assert graphql.get("200 ok", 0) > 0, graphql
    # The freeze outlasts LIAISON_DB_TIMEOUT: /graphql said so with its code.
    assert any(answer.endswith(" DATABASE_UNAVAILABLE") for answer in graphql), graphql
    uncoded = sum(n for by_answer in answers.values() for a, n in by_answer.items() if a.endswith(" uncoded"))
    assert frozen["uncoded_5xx"] == uncoded
    assert (frozen["uncoded_5xx"] > 0) == any("uncoded 5xx" in f for f in frozen["failures"])
    assert frozen["uncoded_5xx"] == 0 and done.returncode == 0, done.stdout  # every fault answered with a code

    recovery = frozen["recovery"]
    assert recovery["recovered"], recovery
    assert 0 <= recovery["readyz_s"] <= recovery["graphql_s"] <= recovery["bound_s"]
    assert frozen["rss_before_mb"] > 0 and frozen["rss_after_mb"] > 0
