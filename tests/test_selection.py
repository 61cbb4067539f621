"""The one selection walker (``resolvers.selection``), with no database: what the compiler
collects for an object of a known type, and what the cost and the exports read as what an
operation may ask."""

from __future__ import annotations

from functools import partial
from typing import Any

from graphql import build_schema, parse, validate
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast

from resolvers.selection import Selections, directives_allow, fragments_of, subselections

SCHEMA = build_schema("""
interface Named { name: String }
type Region implements Named { name: String code: String districts: [District] }
type District implements Named { name: String code: String region: Region }
union Place = Region | District
type Query { regions: [Region] named: [Named] place: Place }
""")
REGION: Any = SCHEMA.get_type("Region")
DISTRICT: Any = SCHEMA.get_type("District")
NAMED: Any = SCHEMA.get_type("Named")
PLACE: Any = SCHEMA.get_type("Place")
QUERY: Any = SCHEMA.query_type


def walker(text: str, variables: dict[str, Any] | None = None) -> tuple[Selections, Any]:
    """The walker over ``text``'s operation, reading directives with ``variables`` (None: not at
    all), and the operation's selection set."""
    document = parse(text)
    assert not validate(SCHEMA, document)
    operation = get_operation_ast(document)
    assert operation is not None
    if variables is None:
        return Selections(SCHEMA, fragments_of(document)), operation.selection_set
    coerced = get_variable_values(SCHEMA, operation.variable_definitions or (), variables)
    assert not isinstance(coerced, list)
    return Selections(
        SCHEMA, fragments_of(document), partial(directives_allow, variables=coerced)
    ), operation.selection_set


def keys(collected: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(key, [n.name.value for n in getattr(found, "nodes", found)]) for key, found in collected.items()]


def inner(selections: Selections, text_key: str, root: Any) -> Any:
    """The merged selection set under the root field ``text_key``."""
    return subselections(selections.collect(QUERY, root)[text_key])


def test_fragments_are_expanded_where_they_stand() -> None:
    selections, root = walker("{ regions { code ...R ... { code } name } } fragment R on Region { districts { code } }")
    found = selections.collect(REGION, inner(selections, "regions", root))
    assert keys(found) == [("code", ["code", "code"]), ("districts", ["districts"]), ("name", ["name"])]


def test_fragments_inside_fragments_are_expanded() -> None:
    text = "{ regions { ...A } } fragment A on Region { ...B code } fragment B on Region { name }"
    selections, root = walker(text)
    assert list(selections.collect(REGION, inner(selections, "regions", root))) == ["name", "code"]
    assert [n.name.value for n, _ in selections.fields(REGION, inner(selections, "regions", root))] == ["name", "code"]


def test_skip_and_include_read_the_variables_as_the_executor_does() -> None:
    text = """query($skip: Boolean!, $with: Boolean = false) {
      regions { code @skip(if: $skip) name @include(if: $with) ...R @skip(if: true) ... @include(if: $with) { districts { code } } }
    } fragment R on Region { a: code }"""
    selections, root = walker(text, {"skip": True})
    assert list(selections.collect(REGION, inner(selections, "regions", root))) == []
    selections, root = walker(text, {"skip": False, "with": True})
    assert list(selections.collect(REGION, inner(selections, "regions", root))) == ["code", "name", "districts"]


def test_without_variables_every_selection_is_kept() -> None:
    selections, root = walker("{ regions @skip(if: true) { code @include(if: false) } }", None)
    found = selections.grouped(QUERY, root)
    assert keys(found) == [("regions", ["regions"])]
    assert list(selections.grouped(REGION, subselections(found["regions"].nodes))) == ["code"]


def test_aliases_are_the_response_keys() -> None:
    selections, root = walker("{ a: regions { code } b: regions { name } regions { c: code } }")
    assert keys(selections.collect(QUERY, root)) == [("a", ["regions"]), ("b", ["regions"]), ("regions", ["regions"])]


def test_the_same_field_twice_is_one_key_with_the_selections_of_both() -> None:
    selections, root = walker("{ regions { code } regions { name ... on Region { code } } }")
    (only,) = selections.collect(QUERY, root).values()
    assert len(only) == 2
    assert list(selections.collect(REGION, subselections(only))) == ["code", "name"]


def test_type_conditions_on_an_abstract_type() -> None:
    text = """{ named { name ... on Region { code } ... on District { region { code } } ...N }
      place { ... on Named { name } ... on District { code } } }
    fragment N on Named { n: name }"""
    selections, root = walker(text)
    named = inner(selections, "named", root)
    # collected for an object of a known type: only what applies to it
    assert list(selections.collect(REGION, named)) == ["name", "code", "n"]
    assert list(selections.collect(DISTRICT, named)) == ["name", "region", "n"]
    place = inner(selections, "place", root)
    assert list(selections.collect(REGION, place)) == ["name"]
    assert list(selections.collect(DISTRICT, place)) == ["name", "code"]
    # what it may ask: every fragment, each field with the type that declares it
    owners = [(n.name.value, owner.name) for n, owner in selections.fields(NAMED, named)]
    assert owners == [("name", "Named"), ("code", "Region"), ("region", "District"), ("name", "Named")]
    assert selections.grouped(PLACE, place)["code"].owner is DISTRICT


def test_a_fragment_spread_twice_is_collected_once_and_may_be_asked_twice() -> None:
    text = "{ regions { ...R ...S } } fragment R on Region { code ...S } fragment S on Region { name }"
    selections, root = walker(text)
    regions = inner(selections, "regions", root)
    assert keys(selections.collect(REGION, regions)) == [("code", ["code"]), ("name", ["name"])]
    assert [n.name.value for n, _ in selections.fields(REGION, regions)] == ["code", "name", "name"]


def test_a_fragment_inside_itself_is_passed_over_and_every_selection_is_visited() -> None:
    document = parse("{ regions { ...R } } fragment R on Region { code ...R }")
    visited: list[str] = []
    selections = Selections(SCHEMA, fragments_of(document), visit=lambda s: visited.append(type(s).__name__))
    operation = get_operation_ast(document)
    assert operation is not None
    (regions,) = selections.collect(QUERY, operation.selection_set).values()
    assert [n.name.value for n, _ in selections.fields(REGION, subselections(regions))] == ["code"]
    assert visited == ["FieldNode", "FragmentSpreadNode", "FieldNode", "FragmentSpreadNode"]
