"""schema.graphql is the committed SDL frontends and partners read (what `_service { sdl }`
serves a federation router): it must not drift."""

from pathlib import Path

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
