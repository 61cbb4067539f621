"""examples/typescript: a typed client that runs only saved documents, as a frontend would.

GraphQL Code Generator's client preset types the operations against schema.graphql (Date,
DateTime and Decimal as strings) and writes the persisted-documents manifest; `liaison
queries push` saves it, and the compiled client runs the operations by hash against a
service in trusted-documents-only mode. Node packages are pinned by the example's
package-lock.json; skipped only where node or npm is missing, never in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pytest

from .support import LIAISON, data, live_service, npm_ci, service, token

PROJECT = Path(__file__).resolve().parent.parent / "examples" / "typescript"
MANIFEST = PROJECT / "src" / "gql" / "persisted-documents.json"

NODE, NPM = shutil.which("node"), shutil.which("npm")

pytestmark = pytest.mark.skipif(
    (NODE is None or NPM is None) and not os.environ.get("CI"),
    reason="node and npm are needed for examples/typescript",
)

RETURNS = {"from": "2021-01-01", "before": "2022-01-01", "first": 5}
SETTLED = {"district": "310115", "from": "2020-01-01T00:00:00+08:00", "before": "2021-01-01T00:00:00+08:00", "first": 5}
"""The variables src/main.ts runs its two operations with."""


def run(*command: str | Path, cwd: Path = PROJECT, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture(scope="module")
def built() -> dict[str, str]:
    """The example installed, generated and compiled; its manifest, hash to document."""
    assert NPM is not None, "npm is needed in CI"
    npm_ci(PROJECT)
    shutil.rmtree(PROJECT / "src" / "gql", ignore_errors=True)
    shutil.rmtree(PROJECT / "dist", ignore_errors=True)
    for script in ("codegen", "build"):  # build: tsc, which type-checks and emits nothing on an error
        done = run(NPM, "run", script)
        assert done.returncode == 0, f"npm run {script}:\n{done.stdout}{done.stderr}"
    return json.loads(MANIFEST.read_text())


def test_the_scalars_are_typed_as_strings(built: dict[str, str]) -> None:
    generated = (PROJECT / "src" / "gql" / "graphql.ts").read_text()
    assert "amount: string, purchaseStore" in generated
    assert "openedAt: string, closedAt: string | null, amountClaimed: string | null" in generated


def test_the_client_runs_its_pushed_documents_by_hash_only(built: dict[str, str], db_dsn: str, tmp_path: Path) -> None:
    assert NODE is not None
    documents = {body.split("(")[0].removeprefix("query "): body for body in built.values()}
    assert sorted(documents) == ["ReturnsBroughtBack", "SettledCases"]
    with service(db_dsn) as client:
        expected_returns = data(client, documents["ReturnsBroughtBack"], **RETURNS)["crossStoreReturns"]
        expected_cases = data(client, documents["SettledCases"], **SETTLED)["cases"]
    assert expected_returns["nodes"] and expected_cases["nodes"], "the demo data has rows for both"

    with live_service(db_dsn, tmp_path, LIAISON_TRUSTED_DOCUMENTS_ONLY="1") as base:
        env: dict[str, Any] = {"LIAISON_URL": base, "LIAISON_TOKEN": token("internal")}

        before_push = run(NODE, "dist/main.js", **env)
        assert before_push.returncode != 0
        assert "PERSISTED_QUERY_NOT_FOUND" in before_push.stderr, before_push.stderr

        pushed = run(LIAISON, "queries", "push", MANIFEST, "--owner", "web team", DATABASE_URL=db_dsn)
        assert pushed.returncode == 0, pushed.stderr
        assert pushed.stdout.count("saved ") == 2, pushed.stdout

        ran = run(NODE, "dist/main.js", **env)
        assert ran.returncode == 0, ran.stderr
        out: dict[str, Any] = json.loads(ran.stdout)
        assert out["returns"] == expected_returns
        assert out["settledCases"] == expected_cases
        recovered = sum(Decimal(c["amountRecovered"] or 0) for c in expected_cases["nodes"])
        assert Decimal(out["recoveredOnThisPage"]) == recovered

        # The mode the client ran in: any text but a saved document's is refused.
        text = httpx2.post(
            base + "/graphql",
            json={"query": documents["SettledCases"].replace("number", "number summary"), "variables": SETTLED},
            headers={"Authorization": f"Bearer {env['LIAISON_TOKEN']}"},
            timeout=30,
        ).json()
        assert [e["extensions"]["code"] for e in text["errors"]] == ["TRUSTED_DOCUMENT_REQUIRED"]
