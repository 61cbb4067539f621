"""schema.graphql is the committed SDL frontends and partners read (what `_service { sdl }`
serves a federation router): it must not drift."""

from pathlib import Path

from graphql import GraphQLScalarType, is_specified_scalar_type

from schema import schema

SDL = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_committed_sdl_matches_the_schema() -> None:
    assert SDL.read_text() == schema.as_str() + "\n", "run `liaison schema > schema.graphql` and commit it"


def test_every_type_and_field_is_described() -> None:
    undocumented = []
    for name, gql_type in schema._schema.type_map.items():
        if name.startswith("__") or name == "_Service" or not hasattr(gql_type, "fields"):
            continue  # introspection's, and federation's own
        if not gql_type.description:
            undocumented.append(name)
        undocumented += [
            f"{name}.{f}" for f, field in gql_type.fields.items() if not field.description and not f.startswith("_")
        ]
    assert undocumented == []


def test_every_custom_scalar_names_its_format() -> None:
    """``@specifiedBy`` tells client generators what text a Date, DateTime or Decimal is."""
    unspecified = [
        name
        for name, gql_type in schema._schema.type_map.items()
        if isinstance(gql_type, GraphQLScalarType)
        and not is_specified_scalar_type(gql_type)
        and not (name.startswith("_") or "__" in name)  # federation's own: _Any, link__Import
        and not gql_type.specified_by_url
    ]
    assert unspecified == []
