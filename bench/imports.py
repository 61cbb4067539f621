"""Importing contact points at volume: time and the importing process's peak memory.

    .venv/bin/python -m bench.imports                 # 100,000 rows (CSV and XLSX) and a 100 MB CSV
    .venv/bin/python -m bench.imports --megabytes 20  # a smaller large file

An embedded PostgreSQL in a temporary directory, migrated (reference data, no demo). Each
run imports into a fresh database in a child process of its own (``--one``), which reports
its wall time and its peak resident memory (``ru_maxrss``): the first run imports a file of
three rows, the floor that the interpreter, asyncpg and openpyxl take alone. Files are
written by this script: contact points across the 16 Shanghai districts, in Chinese headers.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from db.embedded import EmbeddedPostgres
from db.migrate import migrate
from resolvers.imports import Actor, run_import

DISTRICTS = ("310101", "310104", "310105", "310106", "310107", "310109", "310110", "310112", "310113",
             "310114", "310115", "310116", "310117", "310118", "310120", "310151")  # fmt: skip
HEADER = ["联络点编号", "联络点名称", "区代码", "街镇", "类型", "地址", "设立日期", "企业微信", "在线调解"]
KINDS = ("村居委", "商场超市市场", "景区", "学校", "军营", "企业", "商铺", "其他")


def _row(n: int) -> list[str]:
    district = DISTRICTS[n % len(DISTRICTS)]
    seq = 10_000 + n // len(DISTRICTS)
    return [
        f"CP{district}-{seq:05d}",
        f"第{n}号社区消费维权联络点（示范）",
        district,
        f"第{n % 37}街道",
        KINDS[n % len(KINDS)],
        f"上海市某区某路{n}弄{n % 97}号{n % 13}楼",
        f"{2010 + n % 12}年{1 + n % 12}月{1 + n % 28}日",
        "是" if n % 3 else "否",
        "是" if n % 5 else "否",
    ]


def write_csv(path: Path, rows: int | None = None, megabytes: float | None = None) -> int:
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        n = 0
        while (rows is not None and n < rows) or (megabytes is not None and out.tell() < megabytes * 1_000_000):
            writer.writerow(_row(n))
            n += 1
    return n


def write_xlsx(path: Path, rows: int) -> None:
    import openpyxl

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for n in range(rows):
        sheet.append(_row(n))
    book.save(path)


async def _one(dsn: str, path: Path, apply: bool) -> dict[str, object]:
    conn = await asyncpg.connect(dsn)
    started = time.monotonic()
    try:
        with path.open("rb") as binary:
            report = await run_import(
                conn, "contact-points", binary, file_name=path.name, apply=apply, actor=Actor("bench", "cli")
            )
    finally:
        await conn.close()
    return {
        "seconds": round(time.monotonic() - started, 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rows": report.rows,
        "created": report.created,
        "unchanged": report.unchanged,
        "rejected": report.rejected_rows,
        "applied": report.applied,
    }


def _child(dsn: str, path: Path, apply: bool) -> dict[str, object]:
    args = [sys.executable, "-m", "bench.imports", "--one", str(path), "--dsn", dsn] + (["--apply"] if apply else [])
    done = subprocess.run(args, capture_output=True, text=True, check=True)  # noqa: S603 (this script, this interpreter)
    return json.loads(done.stdout)


async def _database(admin: str, name: str) -> str:
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    finally:
        await conn.close()
    dsn = admin.replace("/postgres?", f"/{name}?")
    await migrate(dsn)
    return dsn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--megabytes", type=float, default=100)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--dsn", help=argparse.SUPPRESS)
    parser.add_argument("--apply", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(_one(args.dsn, args.one, args.apply))))
        return
    work = Path(tempfile.mkdtemp(prefix="liaison-bench-imports-"))
    work.chmod(0o711)
    server = EmbeddedPostgres(work / "pg")
    admin = server.start(timeout=120)
    try:
        tiny, rows_csv, rows_xlsx, big = work / "tiny.csv", work / "rows.csv", work / "rows.xlsx", work / "big.csv"
        write_csv(tiny, rows=3)
        write_csv(rows_csv, rows=args.rows)
        write_xlsx(rows_xlsx, args.rows)
        big_rows = write_csv(big, megabytes=args.megabytes)
        results = []
        for label, path, apply, fresh in [
            ("3 rows (the floor)", tiny, True, True),
            (f"{args.rows:,} rows, CSV, apply", rows_csv, True, True),
            (f"{args.rows:,} rows, CSV, again (all unchanged)", rows_csv, True, False),
            (f"{args.rows:,} rows, XLSX, dry run", rows_xlsx, False, True),
            (f"{big.stat().st_size / 1e6:.0f} MB CSV ({big_rows:,} rows), apply", big, True, True),
        ]:
            if fresh:
                dsn = asyncio.run(_database(admin, "bench_imports"))
            result = _child(dsn, path, apply)
            result.update(label=label, file_mb=round(path.stat().st_size / 1e6, 1))
            results.append(result)
            print(json.dumps(result, ensure_ascii=False), flush=True)
        out = io.StringIO()
        out.write("| file | size | time | peak RSS | rows | created | unchanged |\n|---|---|---|---|---|---|---|\n")
        for r in results:
            out.write(
                f"| {r['label']} | {r['file_mb']} MB | {r['seconds']} s | {r['peak_mb']} MB | {r['rows']:,} |"
                f" {r['created']:,} | {r['unchanged']:,} |\n"
            )
        print(out.getvalue())
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
