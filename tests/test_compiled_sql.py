"""What the compiled statement reads, not only what it answers (verify mode checks the answers):
a page reads its extra row, its cursors and its rows only when the selection needs them, and
each row's object is a lateral subselect beside the row, not a subplan per row (bench figures:
the dashboard's statement costs PostgreSQL 10-14 % less CPU for it)."""

from __future__ import annotations

import re

import asyncpg
import pytest
from graphql import parse, validate
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast

from db.access import Role, Viewer
from db.compiled import render
from resolvers.compiler import Compiler
from resolvers.pagination import MAX_PAGE
from schema import schema

CURSOR = "rtrim(translate(encode("  # db.formats.cursor_sql: a cursor's base64


def rendered(query: str) -> str:
    return rendered_with_values(query)[0]


def rendered_with_values(query: str) -> tuple[str, list[object]]:
    document = parse(query)
    assert not validate(schema._schema, document)
    operation = get_operation_ast(document)
    assert operation is not None
    coerced = get_variable_values(schema._schema, operation.variable_definitions or (), {})
    assert not isinstance(coerced, list)
    viewer = Viewer(Role.INTERNAL)
    return render(Compiler(schema).plan(document, operation, coerced, viewer, MAX_PAGE), viewer)


def test_a_forward_page_reads_its_extra_row_only_for_has_next_page() -> None:
    nodes = rendered("{ contactPoints(first: 5) { nodes { code } } }")
    assert re.search(r"LIMIT \$\d+::int\)", nodes) and "+ 1" not in nodes
    asked = rendered("{ contactPoints(first: 5) { pageInfo { hasNextPage } nodes { code } } }")
    assert re.search(r"LIMIT \$\d+::int \+ 1\)", asked) and "AS more" in asked


def test_a_backward_page_always_reads_its_extra_row() -> None:
    assert "+ 1" in rendered("{ contactPoints(last: 5) { nodes { code } } }")


def test_cursors_are_made_only_when_asked_for() -> None:
    assert CURSOR not in rendered("{ contactPoints(first: 5) { nodes { code } } }")
    assert CURSOR in rendered("{ contactPoints(first: 5) { pageInfo { endCursor } nodes { code } } }")
    assert CURSOR in rendered("{ contactPoints(first: 5) { edges { cursor } } }")


def test_a_page_asked_only_for_its_count_reads_no_row_of_it() -> None:
    sql = rendered("{ contactPoints(first: 5) { totalCount } }")
    assert "count(*)" in sql and "ORDER BY" not in sql and "LIMIT" not in sql


def test_row_objects_are_lateral_beside_their_rows() -> None:
    sql = rendered(
        "{ contactPoints(first: 5) { nodes { code district { code } } edges { node { name } } }"
        ' contactPoint(code: "CP310115-00001") { honours { honour } } }'
    )
    # the page's nodes and its edges' nodes share one object; the district, the point and its honours have their own
    assert len(set(re.findall(r"\) (obj\d+)\b", sql))) == 4
    assert "(SELECT row_to_json(_) FROM (SELECT t." not in sql


def test_an_enum_is_a_lookup_in_a_constant_not_parameters() -> None:
    sql, values = rendered_with_values("{ contactPoints(first: 5) { nodes { hostKind } } }")
    assert """'{"residential_committee": "RESIDENTIAL_COMMITTEE", """ in sql
    assert values == [5]


TWO_POINTS = """{ a: contactPoint(code: "CP310113-00514") { hostKind }
  b: contactPoint(code: "CP310115-00001") { hostKind } }"""


async def test_an_enum_maps_null_to_null_and_fails_on_a_value_it_does_not_know(conn: asyncpg.Connection) -> None:
    """As the generic path does (it answers its internal error): a stored value no enum
    value names is a fault to see, not a null to pass on."""
    sql, values = rendered_with_values(TWO_POINTS)
    assert await conn.fetchval(sql, *values) == '{"a":{"hostKind":"MARKET_MALL"},"b":{"hostKind":"SCENIC_AREA"}}'
    check = await conn.fetchval(
        "SELECT conname FROM pg_constraint WHERE conrelid = 'contact_point'::regclass"
        " AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%host_kind%'"  # PostgreSQL 18 lists NOT NULL too
    )
    await conn.execute(f'ALTER TABLE contact_point DROP CONSTRAINT "{check}", ALTER host_kind DROP NOT NULL')
    await conn.execute("UPDATE contact_point SET host_kind = NULL WHERE code = 'CP310113-00514'")
    assert await conn.fetchval(sql, *values) == '{"a":{"hostKind":null},"b":{"hostKind":"SCENIC_AREA"}}'
    await conn.execute("UPDATE contact_point SET host_kind = 'pop_up_stall' WHERE code = 'CP310115-00001'")
    with pytest.raises(asyncpg.InvalidTextRepresentationError, match="pop_up_stall is no value of the enum"):
        await conn.fetchval(sql, *values)
