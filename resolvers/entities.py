"""Federation's ``_entities``: what a router's representation names, for both paths.

A representation names an entity type by ``__typename`` and its row by the type's natural
key (``{"__typename": "District", "code": "330100"}``) or its global ``id``.
``reference_key`` reads that key as the types' ``resolve_reference`` does (``schema.node``),
and ``EntitiesSite`` as the operation compiler does: the representations are values of a
request, bound per request to one statement per set of types asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphql import FieldNode, GraphQLObjectType, GraphQLSchema, GraphQLUnionType
from graphql.execution.values import get_argument_values
from strawberry.relay import GlobalID
from strawberry.utils.str_converters import to_camel_case

from db.access import Viewer
from db.model import Table

from .bindings import NotCompiled, _detached, _slot
from .errors import BadUserInput

__all__ = ["EntitiesSite", "Found", "reference_key"]


def reference_key(type_name: str, column: str, representation: Mapping[str, Any]) -> Any:
    """The key of the row of ``type_name`` (keyed by ``column``) that ``representation`` names;
    None for a global id of another type (no row); BadUserInput for a malformed one."""
    key_name = to_camel_case(column)
    integer = column == "id"
    given = representation.get(key_name)
    raw = isinstance(given, str) and given.isascii() and given.isdigit()
    if key_name in representation and (not integer or raw):  # else an id is the global id the API gave out
        key = representation[key_name]
    elif "id" in representation:
        try:
            global_id = GlobalID.from_id(representation["id"])
        except Exception as exc:  # strawberry raises several kinds for a malformed id
            raise BadUserInput(f"{representation['id']!r} is not an id this API gave out.") from exc
        if global_id.type_name != type_name:
            return None
        key = global_id.node_id
    else:
        raise BadUserInput(f"A {type_name} representation needs `{key_name}` or `id`.")
    if not isinstance(key, str) or (integer and not (key.isascii() and key.isdigit() and len(key) < 19)):
        raise BadUserInput(f"`{key_name}` of a {type_name} representation must be a string.")
    return int(key) if integer else key


Found = tuple[tuple[str, ...], Any, Any, Any]
"""The entity types asked (sorted), then per representation in order: the 1-based index of
its type among them (0: it names no row), its text key, its integer key (or their ``Slot``s)."""


@dataclass(frozen=True)
class EntitiesSite:
    """The representations of ``_entities``. Which types they ask is structure (each type is
    a branch of the SQL, with its selection); their order, kinds and keys are three arrays.
    A representation the generic path answers with an error (malformed, a key PostgreSQL
    refuses) sends the request there: it words the error, and the others' answers with it."""

    schema: GraphQLSchema
    definition: Any
    node: FieldNode

    @classmethod
    def of(cls, schema: GraphQLSchema, definition: Any, node: FieldNode) -> EntitiesSite:
        return cls(schema, definition, FieldNode(name=node.name, arguments=_detached(node.arguments)))

    def found(self, variables: Any, viewer: Viewer, max_page: int) -> Found:
        representations = get_argument_values(self.definition, self.node, variables)["representations"]
        keys = [self._key(representation) for representation in representations]
        types = tuple(sorted({k[0] for k in keys if k is not None}))
        kinds = [0 if k is None else types.index(k[0]) + 1 for k in keys]
        texts = [k[1] if k is not None and isinstance(k[1], str) else None for k in keys]
        ids = [k[1] if k is not None and isinstance(k[1], int) else None for k in keys]
        return types, kinds, texts, ids

    def _key(self, representation: Any) -> tuple[str, Any] | None:
        entities: Any = self.schema.get_type("_Entity")
        assert isinstance(entities, GraphQLUnionType)
        name = representation.get("__typename") if isinstance(representation, dict) else None
        runtime = self.schema.get_type(name) if isinstance(name, str) else None
        if not isinstance(name, str) or not isinstance(runtime, GraphQLObjectType) or runtime not in entities.types:
            raise NotCompiled("a malformed representation", static=False)
        origin = runtime.extensions["strawberry-definition"].origin
        source: tuple[Table, str] | None = getattr(origin, "node_source", None)
        if source is None:
            raise NotCompiled(f"a representation of {name} has no compiled form", static=False)
        try:
            key = reference_key(origin.__name__, source[1], representation)
        except BadUserInput as refused:
            raise NotCompiled("a malformed representation", static=False) from refused
        if isinstance(key, str) and "\x00" in key:
            raise NotCompiled("a key the database refuses", static=False)
        return None if key is None else (name, key)

    def split(self, found: Found) -> tuple[Any, tuple[Any, ...]]:
        return found[0], found[1:]

    def marked(self, found: Found, first: int) -> Found:
        return found[0], _slot(first), _slot(first + 1), _slot(first + 2)
