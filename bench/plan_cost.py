"""CPU per request of what the compiled path does before its statement runs, in process, for
Q3 (bench/queries/q3_detail.graphql) with a new contact-point code and page size each time.

- ``plan + render``: what every new value cost before statements were kept per variable
  shape (the statement cache was keyed by the exact values): coerce the variables, plan
  (``Compiler.plan``), render (``db.compiled.render``).
- ``bound``: what a new value of a known shape costs now (``schema.compiled.statement_for``
  with the shape's statement kept): coerce the variables, the shape's key, the binder's
  sites (the resolvers' conversion and validation), the parameters.

No database: the figures are Python's alone. ``python -m bench.plan_cost [requests]``.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from graphql import parse
from graphql.execution.values import VariableValues, get_variable_values
from graphql.utilities import get_operation_ast

from db.access import Role, Viewer
from db.compiled import render
from schema import schema
from schema.caches import DocumentCaches
from schema.compiled import statement_for
from schema.engine import QueryEngine

QUERY = Path(__file__).with_name("queries") / "q3_detail.graphql"
MAX_PAGE = 100


def main(requests: int = 5000) -> None:
    text = QUERY.read_text()
    document = parse(text)
    operation = get_operation_ast(document)
    assert operation is not None
    compiler = QueryEngine(schema).compiler
    viewer = Viewer(Role.INTERNAL)
    rng = random.Random(20)  # noqa: S311 (a reproducible draw, not a secret)
    variables = [{"code": f"CP310115-{i:05d}", "cases": rng.randint(5, 20)} for i in range(requests)]
    definitions = operation.variable_definitions or ()

    def coerced(values: dict[str, object]) -> VariableValues:
        found = get_variable_values(compiler.schema, definitions, values)
        assert not isinstance(found, list)
        return found

    start = time.process_time()
    for values in variables:
        render(compiler.plan(document, operation, coerced(values), viewer, MAX_PAGE), viewer)
    planned = (time.process_time() - start) / requests

    caches = DocumentCaches()
    statement_for(caches, compiler, text, "Detail", document, operation, coerced(variables[0]), viewer, MAX_PAGE)
    start = time.process_time()
    for values in variables:
        statement = statement_for(caches, None, text, "Detail", document, operation, coerced(values), viewer, MAX_PAGE)
        assert statement is not None
    bound = (time.process_time() - start) / requests
    print(
        f"Q3, {requests} requests of distinct values: plan + render {planned * 1e6:.0f} µs, bound {bound * 1e6:.0f} µs"
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
