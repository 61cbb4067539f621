"""examples/python/saved_query_csv.py: an internal tool's report, a saved query run over HTTP.

The script runs as a scheduled job would: a child process with the standard library only
(``-S``: no site-packages), an API key in its environment, against ``liaison serve``.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from pathlib import Path

from .support import LIAISON, data, live_service, service

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "python" / "saved_query_csv.py"
QUERIES = ROOT / "examples" / "queries"

PUDONG_2020 = {"district": "310115", "from": "2020-01-01T00:00:00+08:00", "before": "2021-01-01T00:00:00+08:00"}


def liaison(dsn: str, *args: str) -> str:
    done = subprocess.run(
        [str(LIAISON), *args], env={"DATABASE_URL": dsn}, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def report(base: str, key: str, out: Path, name: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-S", str(SCRIPT), name, "--out", str(out), *(f"--var={k}={v}" for k, v in variables.items())],
        env={"LIAISON_URL": base, "LIAISON_API_KEY": key},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_script_writes_a_saved_querys_rows_as_csv(db_dsn: str, tmp_path: Path) -> None:
    liaison(db_dsn, "queries", "push", str(QUERIES), "--owner", "reports team")
    key = liaison(db_dsn, "key", "create", "--role", "internal", "--label", "monthly reports").strip()
    with service(db_dsn) as client:
        document = (QUERIES / "DistrictCaseReport.graphql").read_text()
        expected = data(client, document, **PUDONG_2020)["cases"]
    assert 0 < len(expected["nodes"]) <= 100 < expected["totalCount"], "a page of a longer list"

    out = tmp_path / "pudong-2020.csv"
    with live_service(db_dsn, tmp_path) as base:
        done = report(base, key, out, "DistrictCaseReport", **PUDONG_2020)
        assert done.returncode == 0, done.stderr
        # Every page: the export follows the cursors past the first page's 100.
        assert done.stderr.strip() == f"{out}: {expected['totalCount']} rows of DistrictCaseReport"

        text = out.read_bytes().decode("utf-8")
        assert text.startswith("\ufeff"), "a BOM, so spreadsheets read the Chinese as UTF-8"
        rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
        assert len({r["number"] for r in rows}) == len(rows) == expected["totalCount"]
        rows = rows[: len(expected["nodes"])]
        assert [r["number"] for r in rows] == [n["number"] for n in expected["nodes"]]
        assert [r["contactPoint.name"] for r in rows] == [n["contactPoint"]["name"] for n in expected["nodes"]]
        assert [r["amountClaimed"] for r in rows] == [n["amountClaimed"] or "" for n in expected["nodes"]]
        assert [r["openedAt"] for r in rows] == [n["openedAt"] for n in expected["nodes"]]

        # A failed run says why, exits 1 and leaves the last report as it was.
        before = out.read_bytes()
        unknown = report(base, key, out, "NoSuchReport")
        assert unknown.returncode == 1
        assert "SAVED_QUERY_NOT_FOUND" in unknown.stderr, unknown.stderr
        bad = report(base, key, out, "DistrictCaseReport", **{**PUDONG_2020, "from": "last spring"})
        assert bad.returncode == 1
        assert "BAD_USER_INPUT" in bad.stderr, bad.stderr
        assert out.read_bytes() == before
        assert [p.name for p in tmp_path.glob(".*partial")] == []


def test_a_query_of_several_lists_is_written_as_a_zip_and_never_under_a_csv_name(db_dsn: str, tmp_path: Path) -> None:
    folder = tmp_path / "queries"
    folder.mkdir()
    (folder / "RegionsAndPoints.graphql").write_text(
        'query RegionsAndPoints { regions { code name } district(code: "310101") { contactPoints { nodes { code } } } }'
    )
    liaison(db_dsn, "queries", "push", str(folder), "--owner", "reports team")
    key = liaison(db_dsn, "key", "create", "--role", "internal", "--label", "two lists").strip()
    with live_service(db_dsn, tmp_path) as base:
        as_csv = report(base, key, tmp_path / "both.csv", "RegionsAndPoints")
        assert as_csv.returncode == 1 and "--out NAME.zip" in as_csv.stderr, as_csv.stderr
        assert not (tmp_path / "both.csv").exists()

        done = report(base, key, tmp_path / "both.zip", "RegionsAndPoints")
        assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(tmp_path / "both.zip") as archive:
        members = {
            name: list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig")))) for name in archive.namelist()
        }
    assert list(members) == ["regions.csv", "district.contactPoints.csv"]
    assert members["regions.csv"][0] == ["code", "name"] and len(members["regions.csv"]) > 1
    counts = ", ".join(f"{name}: {len(rows) - 1} rows" for name, rows in members.items())
    assert done.stderr.strip() == f"{tmp_path / 'both.zip'}: RegionsAndPoints ({counts})"
