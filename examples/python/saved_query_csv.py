#!/usr/bin/env python3
"""Run one of liaison-graph's saved queries over HTTP and write its list as a CSV file
(or its lists as a ZIP of CSV files, one per list, when it selects several).

For internal tools and scheduled jobs: a report is a saved, reviewed query run by name
(``/queries/{name}``), so nobody's script holds GraphQL text. Standard library only, so it
runs from any Python 3.11 without installing anything.

    LIAISON_API_KEY=lgk_… python3 saved_query_csv.py DistrictCaseReport \\
        --var district=310115 --var from=2020-01-01T00:00:00+08:00 \\
        --var before=2021-01-01T00:00:00+08:00 --out pudong-2020.csv

A query that selects several lists answers a ZIP with one CSV per list: give ``--out
NAME.zip`` for it (a ``.csv`` path is refused, so no archive is written under a CSV name).

The key (``liaison key create --role internal --label "monthly reports"``) comes from the
environment, never the command line, so it stays out of shell history and ``ps``. The file
is written whole or not at all: a failed run leaves the previous report in place, prints
the service's error code and message, and exits 1.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

CSV, ZIP = "text/csv", "application/zip"


def fetch_csv(
    base_url: str, name: str, variables: list[tuple[str, str]], key: str | None, timeout: float
) -> tuple[bytes, str]:
    """The saved query's list as CSV (UTF-8 with a BOM), or its lists as a ZIP of them, with
    the media type; ``SystemExit`` with the service's error otherwise."""
    query = urllib.parse.urlencode([*variables, ("format", "csv")])
    url = f"{base_url.rstrip('/')}/queries/{urllib.parse.quote(name, safe='')}?{query}"
    headers = {"Accept": f"{CSV}, {ZIP}", **({"Authorization": f"Bearer {key}"} if key else {})}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout) as response:  # noqa: S310 (the URL is the operator's)
            body, media_type = response.read(), response.headers.get_content_type()
    except urllib.error.HTTPError as error:
        body, media_type = error.read(), error.headers.get_content_type()
    except urllib.error.URLError as error:
        raise SystemExit(f"{name}: cannot reach {base_url}: {error.reason}") from error
    if media_type in (CSV, ZIP):
        return body, media_type
    # Not a CSV: the GraphQL response, with errors (a refusal, or a fault such as DATABASE_UNAVAILABLE).
    try:
        errors = json.loads(body).get("errors") or []
    except (ValueError, AttributeError):
        errors = []
    problems = [f"{e.get('extensions', {}).get('code', 'ERROR')}: {e.get('message')}" for e in errors]
    raise SystemExit(f"{name}: " + ("; ".join(problems) or f"an answer of type {media_type}, not CSV"))


def write_whole(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path`` by renaming a finished file over it, so no reader sees half of it."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(content)
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="the saved query, e.g. DistrictCaseReport")
    parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a variable (repeatable)")
    parser.add_argument("--out", type=Path, required=True, help="the CSV file to write")
    parser.add_argument("--url", default=os.environ.get("LIAISON_URL", "http://127.0.0.1:8000"), help="the service")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for the answer")
    args = parser.parse_args(argv)
    variables = []
    for item in args.var:
        name, equals, value = item.partition("=")
        if not equals:
            parser.error(f"--var {item!r}: write NAME=VALUE")
        variables.append((name, value))
    content, media_type = fetch_csv(args.url, args.name, variables, os.environ.get("LIAISON_API_KEY"), args.timeout)
    if media_type == ZIP and args.out.suffix.lower() != ".zip":
        raise SystemExit(f"{args.name} selects several lists and answers a ZIP of CSV files: give --out NAME.zip")
    write_whole(args.out, content)
    if media_type == CSV:
        print(f"{args.out}: {_rows(content)} rows of {args.name}", file=sys.stderr)
    else:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            counts = ", ".join(f"{member}: {_rows(archive.read(member))} rows" for member in archive.namelist())
        print(f"{args.out}: {args.name} ({counts})", file=sys.stderr)
    return 0


def _rows(content: bytes) -> int:
    """The rows of a CSV file after its header."""
    return max(0, sum(1 for _ in csv.reader(io.StringIO(content.decode("utf-8-sig")))) - 1)


if __name__ == "__main__":
    sys.exit(main())
