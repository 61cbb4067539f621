"""``liaison import KIND FILE``: a dry run by default, ``--apply`` to write; the report on stdout."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from resolvers.imports import KINDS, Actor, ImportRefused, Report, run_import

from .progress import ProgressBar

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    command = commands.add_parser(
        "import", help="import a register from CSV or XLSX: a dry run unless --apply (see README: Import)"
    )
    command.add_argument("kind", choices=sorted(KINDS))
    command.add_argument("file", type=Path)
    command.add_argument("--apply", action="store_true", help="write it: every row in one transaction, or nothing")
    command.add_argument("--json", action="store_true", help="print the report as JSON")


def _progress(kind: str) -> Callable[[int, int, str], None]:
    bar = ProgressBar(f"import {kind}")

    def show(done: int, total: int, unit: str) -> None:
        bar.unit = unit
        bar(done, total)

    return show


def _print(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
        return
    for rejection in report.rejected:
        print(f"row {rejection.row}, {rejection.column}: {rejection.reason}")
    if report.rejected_rows > len(report.rejected):
        print(f"... and more: {report.rejected_rows:,} rows rejected in all")
    if report.ignored_columns:
        print("columns ignored: " + ", ".join(report.ignored_columns))
    verb = "imported" if report.applied else "would import (dry run)" if report.rejected_rows == 0 else "refused"
    print(
        f"{report.kind} {verb}: {report.rows:,} rows, {report.created:,} created, {report.updated:,} updated,"
        f" {report.unchanged:,} unchanged, {report.rejected_rows:,} rejected (sha256 {report.sha256[:16]}…)"
    )


def run(dsn: str, args: argparse.Namespace) -> int:
    """0 when the import (or its dry run) found nothing to reject, 1 when it did, 2 when the file was refused."""

    async def main() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            with args.file.open("rb") as binary:
                progress = _progress(args.kind) if sys.stderr.isatty() else None
                report = await run_import(
                    conn,
                    args.kind,
                    binary,
                    file_name=args.file.name,
                    apply=args.apply,
                    actor=Actor(f"cli:{getpass.getuser()}", "cli"),
                    progress=progress,
                )
        except ImportRefused as refused:
            print(f"liaison import: {refused} [{refused.code}]", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"liaison import: {exc.strerror}: {args.file}", file=sys.stderr)
            return 2
        finally:
            await conn.close()
        _print(report, args.json)
        return 1 if report.rejected_rows else 0

    return asyncio.run(main())
