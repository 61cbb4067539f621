"""The layout: the top-level packages are this repository's, not same-named ones from PyPI;
and SQL is written in db/ only (the import direction itself is import-linter's contract in
pyproject.toml, run by .ci/run)."""

import ast
import re
from pathlib import Path

import api
import db
import resolvers
import schema

ROOT = Path(__file__).resolve().parent.parent


def test_packages_come_from_this_repository() -> None:
    for package in (api, db, resolvers, schema):
        assert package.__file__ is not None, package.__name__
        assert Path(package.__file__).resolve().parent.parent == ROOT, package.__name__


# What marks a string as SQL: its keywords as SQL writes them (upper case, unlike the
# schema's English descriptions), and the operators and functions the statements use.
SQL = re.compile(
    r"\b(SELECT|INSERT INTO|DELETE FROM|UPDATE \w+ SET|WHERE|JOIN|GROUP BY|ORDER BY|IS (NOT )?NULL|COLLATE)\b"
    r"|= ANY\(|\bcount\(|::(text|int|bigint|date|timestamptz)\b"
)


def sql_strings(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        f"{path}:{node.lineno}: {node.value[:60]!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value)
    ]


def test_sql_is_written_in_db_only() -> None:
    found = [
        hit
        for package in ("api", "schema", "resolvers")
        for path in (ROOT / package).rglob("*.py")
        for hit in sql_strings(path)
    ]
    assert found == [], "SQL belongs in db/:\n" + "\n".join(found)


def test_the_sql_check_sees_sql(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        'ORDER = \'t.key COLLATE "C"\'\nFIVE = "p.host_kind = ANY({})"\nDOC = "Where it is, in English."\n'
    )
    assert len(sql_strings(sample)) == 2
