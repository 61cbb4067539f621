"""Golden files, in the manner of PostGraphile's test suite: for each operation in
``tests/golden``, the SQL the compiler plans and renders for it (no database needed) and the
data the service answers (with the demo database), side by side, so that a change to either
shows in review. ``UPDATE_GOLDEN=1`` rewrites them instead of comparing.

A ``.graphql`` file may start with ``# role: <role>`` (default anonymous) and
``# variables: <JSON>`` lines. The ``.sql`` file is the statement, then its parameters as
``-- $n: <JSON>`` lines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest
from graphql import parse, validate
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast

from db.access import Role, Viewer
from db.answers import render_versioned
from resolvers.compiler import Compiler
from resolvers.pagination import MAX_PAGE
from schema import schema

from .support import bearer, post, service

GOLDEN = Path(__file__).parent / "golden"
OPERATIONS = sorted(GOLDEN.glob("*.graphql"), key=lambda p: p.stem)
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def _header(text: str) -> tuple[str, dict[str, Any]]:
    role, variables = "anonymous", {}
    for line in text.splitlines():
        if line.startswith("# role: "):
            role = line.removeprefix("# role: ").strip()
        elif line.startswith("# variables: "):
            variables = json.loads(line.removeprefix("# variables: "))
    return role, variables


def planned_sql(text: str) -> str:
    """The statement and parameters the compiled path sends for the operation ``text``."""
    role, variables = _header(text)
    graphql_schema = schema._schema
    document = parse(text)
    assert not validate(graphql_schema, document)
    operation = get_operation_ast(document)
    assert operation is not None
    coerced = get_variable_values(graphql_schema, operation.variable_definitions or (), variables)
    assert not isinstance(coerced, list), coerced
    viewer = Viewer(Role(role))
    sql, values, _ = render_versioned(Compiler(schema).plan(document, operation, coerced, viewer, MAX_PAGE), viewer)
    parameters = "".join(f"-- ${n}: {orjson.dumps(v, default=str).decode()}\n" for n, v in enumerate(values, 1))
    return f"{sql}\n{parameters}"


def _compare(path: Path, found: str) -> None:
    if UPDATE:
        path.write_text(found)
        return
    assert path.exists(), f"{path.name} is missing: run with UPDATE_GOLDEN=1 and review it"
    assert found == path.read_text(), f"{path.name} differs: review the change, then UPDATE_GOLDEN=1"


def test_every_operation_has_its_golden_files() -> None:
    assert len(OPERATIONS) >= 8
    for operation in OPERATIONS:
        assert operation.with_suffix(".sql").exists() or UPDATE, operation.name
        assert operation.with_suffix(".json").exists() or UPDATE, operation.name


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda p: p.stem)
def test_planned_sql_is_the_golden_sql(operation: Path) -> None:
    _compare(operation.with_suffix(".sql"), planned_sql(operation.read_text()))


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda p: p.stem)
def test_answer_is_the_golden_json(demo_dsn: str, operation: Path) -> None:
    text = operation.read_text()
    role, variables = _header(text)
    with service(demo_dsn, role=None, LIAISON_EXECUTION="verify") as client:
        headers = None if role == "anonymous" else bearer(role)
        served, _, data = post(client, text, headers, **variables)
    assert served == "verified", "both paths answered alike"
    _compare(operation.with_suffix(".json"), json.dumps(data, ensure_ascii=False, indent=2) + "\n")
