"""The pure core, with no database: cost measurement, planning, rendering and cursors.

Everything here runs on the schema and the mapping alone; the end-to-end tests reach the
same functions through the service, where a failure is harder to place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from graphql import parse, validate
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast

from db import formats, model
from db.access import ANONYMOUS, Role, Viewer
from db.compiled import render
from db.plan import Constant, Field, GlobalId, Root, Rows, Scalar
from db.sql import Order
from resolvers.compiler import Compiler, NotCompiled
from resolvers.errors import BadUserInput
from resolvers.pagination import DEFAULT_PAGE, decode_cursor, page_of
from schema import schema
from schema.cost import TooLarge, measure, measured_inputs

GRAPHQL = schema._schema


def _operation(text: str, variables: dict[str, Any] | None = None) -> tuple[Any, Any, Any]:
    document = parse(text)
    assert not validate(GRAPHQL, document)
    operation = get_operation_ast(document)
    assert operation is not None
    coerced = get_variable_values(GRAPHQL, operation.variable_definitions or (), variables or {})
    assert not isinstance(coerced, list)
    return document, operation, coerced


def plan(text: str, viewer: Viewer = ANONYMOUS, variables: dict[str, Any] | None = None) -> Root:
    document, operation, coerced = _operation(text, variables)
    return Compiler(schema).plan(document, operation, coerced, viewer, 100)


# -- cost


def cost(text: str, variables: dict[str, Any] | None = None) -> Any:
    document, operation, coerced = _operation(text, variables)
    return measure(GRAPHQL, document, operation, coerced)


def test_requests_alike_in_what_the_measure_reads_measure_alike() -> None:
    text = """query D($code: String!, $n: Int!, $after: String, $ids: [ID!]!, $skip: Boolean!) {
      contactPoint(code: $code) { cases(first: $n, after: $after) { nodes { number } } }
      nodes(ids: $ids) { id } regions @skip(if: $skip) { code } }"""
    asked = [
        {"code": "CP310115-00001", "n": 5, "ids": ["a"], "skip": False},
        {"code": "CP310101-00002", "n": 5, "ids": ["b"], "skip": False},
        {"code": "CP310115-00001", "n": 9, "ids": ["a"], "skip": False},
        {"code": "CP310115-00001", "n": 5, "ids": ["a", "b"], "skip": False},
        {"code": "CP310115-00001", "n": 5, "ids": ["a"], "skip": True},
    ]
    inputs, measures = [], []
    for variables in asked:
        document, operation, coerced = _operation(text, variables)
        inputs.append(measured_inputs(coerced))
        measures.append(measure(GRAPHQL, document, operation, coerced))
    assert inputs[0] == inputs[1] and measures[0] == measures[1]  # other code and ids: values it does not read
    assert len(set(inputs[:1] + inputs[2:])) == 4  # a page size, a list's length, a condition: each its own
    assert measures[0] != measures[2] and measures[0] != measures[3] and measures[0] != measures[4]


def test_a_page_costs_its_size_times_what_each_node_costs() -> None:
    small = cost("{ contactPoints(first: 5) { nodes { code district { name } } } }")
    large = cost("{ contactPoints(first: 50) { nodes { code district { name } } } }")
    assert small.points < large.points
    assert large.depth == small.depth == 4


def test_variables_count_as_their_values() -> None:
    text = "query($n: Int) { contactPoints(first: $n) { nodes { code } } }"
    assert cost(text, {"n": 5}).points < cost(text, {"n": 90}).points
    assert cost(text, {}).points == cost(f"{{ contactPoints(first: {DEFAULT_PAGE}) {{ nodes {{ code }} }} }}").points


def test_aliases_introspection_and_federation_are_counted() -> None:
    found = cost("{ a: regions { code } b: regions { code } __schema { types { name } } }")
    assert found.aliases == 2
    assert found.introspection
    assert cost("{ _service { sdl } }").service_sdl


def test_a_condition_the_executor_would_refuse_keeps_its_selection_in_the_measure() -> None:
    text = "query($v: Boolean = true) { regions @include(if: $v) { code } }"
    assert cost(text, {"v": None}).points == cost(text, {"v": True}).points > cost(text, {"v": False}).points


def test_fragments_that_multiply_are_refused_before_they_are_walked() -> None:
    fragments = ["fragment F0 on Region { code }"]
    for i in range(1, 30):
        fragments.append(f"fragment F{i} on Region {{ ...F{i - 1} a{i}: districts {{ region {{ ...F{i - 1} }} }} }}")
    with pytest.raises(TooLarge):
        cost("{ regions { ...F29 } }\n" + "\n".join(fragments))


# -- planning


def test_a_list_of_rows_plans_as_rows_with_its_columns() -> None:
    found = plan("{ regions { __typename code } }")
    expected: tuple[Field, ...] = (
        Rows("regions", model.REGION, None, (Constant("__typename", "Region"), Scalar("code", "code")), many=True),
    )
    assert found == Root(expected)


def test_a_node_id_plans_as_a_global_id_of_its_key_column() -> None:
    (rows,) = plan('{ contactPoint(code: "CP310115-00001") { id } }').selection
    assert isinstance(rows, Rows) and rows.link is not None
    assert rows.link.value == "CP310115-00001"
    assert rows.selection == (GlobalId("id", "ContactPoint", "code"),)


@pytest.mark.parametrize(
    ("text", "static"),
    [
        ("{ __schema { queryType { name } } }", True),
        ('mutation { caseAddNote(input: {number: "x", expectedVersion: 1, note: "n"}) { case { number } } }', True),
        ('{ node(id: "bm90IGFuIGlk") { id } }', False),
        ('{ contactPoints(first: 1, after: "not a cursor") { nodes { code } } }', False),
    ],
)
def test_what_the_compiler_does_not_serve_says_whether_it_holds_for_every_request(text: str, static: bool) -> None:
    with pytest.raises(NotCompiled) as refused:
        plan(text, Viewer(Role.INTERNAL))
    assert refused.value.static is static


def test_a_field_the_role_may_not_read_is_not_compiled() -> None:
    with pytest.raises(NotCompiled, match="anonymous"):
        plan("{ cases(first: 1) { nodes { number } } }")


# -- rendering


def test_rendering_puts_every_request_value_in_a_parameter() -> None:
    sql, values = render(plan('{ contactPoint(code: "CP\'; DROP TABLE x; --") { code } }'), ANONYMOUS)
    assert "DROP TABLE" not in sql
    assert "CP'; DROP TABLE x; --" in values


def test_a_response_key_that_is_no_graphql_name_is_refused() -> None:
    with pytest.raises(ValueError, match="not a GraphQL name"):
        render(Root((Constant('a" FROM x --', "y"),)), ANONYMOUS)


def test_rendering_is_deterministic() -> None:
    text = '{ region(code: "310000") { districts { code stats { contactPoints { total } } } } }'
    assert render(plan(text), ANONYMOUS) == render(plan(text), ANONYMOUS)


# -- cursors

ORDERS = {
    "timestamptz": (Order("opened_at", "timestamptz", descending=True), dt.datetime(2023, 6, 1, 8, 30, 5, 120, dt.UTC)),
    "date": (Order("established_on", "date"), dt.date(2019, 3, 15)),
    "text": (Order("name", "text"), '浦东 "新区" \\ /+='),
    "bigint": (Order("number", "bigint"), 2**62),
}


@pytest.mark.parametrize("cast", sorted(ORDERS))
def test_a_cursor_reads_back_as_the_value_and_id_it_was_made_of(cast: str) -> None:
    order, value = ORDERS[cast]
    name = f"{order.column}:asc"
    assert decode_cursor(formats.cursor(name, value, 12345), name, order) == (value, 12345)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",
        formats.cursor("name:desc", "x", 1),  # another order
        "WyJuYW1lOmFzYyJd",  # ["name:asc"]: too short
        formats.cursor("name:asc", "a\x00b", 1),  # NUL, which PostgreSQL text cannot hold
        formats.cursor("name:asc", "x", 2**63),  # past bigint
        formats.cursor("name:asc", "x", "1e3"),
    ],
)
def test_a_cursor_this_api_did_not_give_out_is_a_bad_user_input(cursor: str) -> None:
    with pytest.raises(BadUserInput):
        decode_cursor(cursor, "name:asc", Order("name", "text"))


def test_page_arguments_are_held_to_their_rules() -> None:
    order = Order("code", "text")
    assert page_of("code:asc", order, None, None, None, None).first == DEFAULT_PAGE
    assert page_of("code:asc", order, None, None, None, None, max_size=5).first == 5
    for first, last in ((1, 1), (101, None), (None, -1)):
        with pytest.raises(BadUserInput):
            page_of("code:asc", order, first, None, last, None)
