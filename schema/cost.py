"""What an operation would cost, measured on its document before anything runs.

Points follow GitHub's GraphQL API and the GraphQL cost directive spec that federation
routers use for demand control: every object the response can hold costs one point,
connections counted at their requested page size (``first``/``last``, else the default
page), other lists at an assumed size, nested lists multiplied. Scalars and the plumbing
of connections (edges, page info) cost nothing. So the figure is an upper bound of the
objects returned, known from the document and its variables alone.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.values import VariableValues
from strawberry.federation.schema_directives import ListSize
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.lazy_type import LazyType
from strawberry.types.unset import UNSET
from strawberry.utils.str_converters import to_camel_case

from resolvers.pagination import DEFAULT_PAGE
from resolvers.selection import Selections, directives_allow, fragments_of

from .cache_control import field_hint

__all__ = ["LIST_SIZES", "Measure", "TooLarge", "measure", "measured_inputs", "reachable_types", "size_lists"]

LIST_SIZES: Mapping[str, int] = {
    "Query.regions": 4,
    "Query.programmes": 4,
    "Region.districts": 16,
    "ContactPoint.honours": 5,
    "ContactPoint.starAwards": 5,
    "ContactPoint.memberships": 4,
    "Enterprise.brands": 10,
    "Enterprise.stores": 50,
    "Enterprise.memberships": 4,
    "Case.events": 8,
}
"""Assumed sizes of lists that are not connections: about the largest the data holds."""
DEFAULT_LIST_SIZE = 10

FIELD_WEIGHTS: Mapping[str, int] = {
    "Stats.cases": 100,
    "Stats.crossStoreReturns": 100,
    "Stats.contactPoints": 50,
    "Stats.starAwards": 50,
    "Stats.memberships": 50,
    **{
        f"Mutation.{name}": 10
        for name in (
            "caseOpen",
            "caseAccept",
            "caseStartMediation",
            "caseSettle",
            "caseCloseUnsettled",
            "caseTransfer",
            "caseReopen",
            "caseAddNote",
            "caseCorrect",
        )
    },
}
"""Points for fields that cost the database more than the objects they return: aggregates
over every case or return of their scope, and case writes (a transaction each). A connection's ``totalCount`` weighs
``COUNT_WEIGHT``. Counted once per occurrence in the document, not per parent: the loaders
answer all parents of a field in one statement, so each occurrence (an alias, another
filter or period) is one more statement over the whole table."""
COUNT_WEIGHT = 10

INTROSPECTION_WEIGHT = 500
"""Points per ``__schema``/``__type``: answering one walks the whole schema, in Python."""

_FREE_TYPES = ("Connection", "Edge", "PageInfo")

MAX_STEPS = 100_000
"""Selections visited at most: fragments spread in fragments can multiply a small document."""


class TooLarge(Exception):
    """The document expands past ``MAX_STEPS`` selections: too complex to measure, or to run."""


@dataclass
class Measure:
    depth: int = 0
    aliases: int = 0
    points: int = 0
    introspection: bool = False
    introspection_fields: int = 0
    federation: bool = False
    """The operation asks for ``_entities`` or ``_service``: a federation router's fields."""
    service_sdl: bool = False
    """The operation asks for ``_service``: the whole SDL, as introspection gives it."""
    max_age: int | None = None
    """Seconds a response may be cached: the least its fields' ``@cacheControl`` hints allow
    (``schema.cache_control``); None: no field says (only ``__typename``), so not at all."""
    private: bool = False
    """A field's hint says PRIVATE: only the caller's own cache may keep the response."""
    steps: int = field(default=0, repr=False)


def measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: VariableValues | None,
    default_page: int = DEFAULT_PAGE,
) -> Measure:
    """Measure ``operation``; ``variables`` coerced (``graphql``'s ``get_variable_values``)
    so that defaults and every accepted spelling of a value count; None: it takes none."""
    root = schema.get_root_type(operation.operation)
    walk = _Walk(schema, fragments_of(document), variables, default_page)
    if root is not None:
        walk.selections(operation.selection_set, root, 1, None, 1, None)
    return walk.result


def measured_inputs(variables: VariableValues | None) -> tuple[Any, ...]:
    """What ``measure`` reads of the variables (``_Walk._value``): Ints and Booleans (page
    sizes, ``@skip``/``@include``), lists' lengths (``nodes(ids:)``), and whether each other
    value is given; requests alike in these measure alike, whatever their codes or cursors."""
    coerced = variables.coerced if variables is not None else {}
    return tuple((name, _read(value)) for name, value in sorted(coerced.items()))


def _read(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    return ("list", len(value)) if isinstance(value, list) else "given"


class _Walk:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues | None,
        default_page: int,
    ) -> None:
        self.schema, self.variables, self.default_page = schema, variables, default_page
        self.walker = Selections(schema, fragments, self._included, self._visit)
        self.result = Measure()

    def selections(
        self, selection_set: SelectionSetNode, parent: Any, count: int, page: int | None, depth: int, age: int | None
    ) -> None:
        """``age``: the max-age the parent field allows (None at the root)."""
        for node, owner in self.walker.fields(parent, selection_set):
            name = node.name.value
            if node.alias is not None:
                self.result.aliases += 1
            if depth == 1 and name in ("_entities", "_service"):
                self.result.federation = True
                self.result.service_sdl |= name == "_service"
            if name.startswith("__"):
                if name in ("__schema", "__type"):
                    self.result.introspection = True
                    self.result.introspection_fields += 1
                    self.result.points += count * INTROSPECTION_WEIGHT
                    self.result.max_age = 0  # a root field without a hint, as Apollo has it
                continue
            definition = owner.fields.get(name) if isinstance(owner, GraphQLObjectType | GraphQLInterfaceType) else None
            if definition is None:
                continue
            self.result.depth = max(self.result.depth, depth)
            if name == "totalCount" and owner.name.endswith("Connection"):
                self.result.points += COUNT_WEIGHT
            self.result.points += FIELD_WEIGHTS.get(f"{owner.name}.{name}", 0)
            named = get_named_type(definition.type)
            hint = field_hint(self.schema, definition, named, age)
            if hint.max_age is not None:
                self.result.max_age = min(
                    hint.max_age, self.result.max_age if self.result.max_age is not None else hint.max_age
                )
            self.result.private |= hint.private
            if is_leaf_type(named) or node.selection_set is None:
                continue
            size = self._size(owner, name, definition, node, page) if _is_list(definition.type) else 1
            objects = count * size
            if not named.name.endswith(_FREE_TYPES):
                self.result.points += objects
            inner = self._page_size(node) if named.name.endswith("Connection") else None
            self.selections(node.selection_set, named, objects, inner, depth + 1, hint.max_age)

    def _included(self, selection: SelectionNode) -> bool:
        """As the executor reads ``@skip``/``@include``; a condition it would refuse (a null)
        keeps the selection: the measure is an upper bound, and execution words the error."""
        try:
            return directives_allow(selection, self.variables)
        except GraphQLError:
            return True

    def _visit(self, _: SelectionNode) -> None:
        self.result.steps += 1
        if self.result.steps > MAX_STEPS:
            raise TooLarge

    def _value(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.coerced.get(node.name.value) if self.variables is not None else None
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return [self._value(v) for v in node.values]
        return None

    def _argument(self, node: FieldNode, name: str) -> Any:
        return next((self._value(a.value) for a in node.arguments or () if a.name.value == name), None)

    def _page_size(self, node: FieldNode) -> int:
        for name in ("first", "last"):
            size = self._argument(node, name)
            if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
                return size
        return self.default_page

    def _size(self, owner: Any, name: str, definition: GraphQLField, node: FieldNode, page: int | None) -> int:
        if page is not None and name in ("edges", "nodes"):
            return page
        if owner.name == "Query" and name in ("nodes", "_entities"):
            keys = self._argument(node, "ids" if name == "nodes" else "representations")
            return len(keys) if isinstance(keys, list) else DEFAULT_LIST_SIZE
        return LIST_SIZES.get(f"{owner.name}.{name}", DEFAULT_LIST_SIZE)


def size_lists(roots: list[type]) -> None:
    """Put this module's sizes on the schema as ``@listSize``, for a router's demand control.

    Walks the types reachable from ``roots`` before the schema is built: every list field
    gets its assumed size, every connection field its slicing arguments and sized fields.
    """
    for _, definition in reachable_types(roots):
        for member in definition.fields:
            if any(isinstance(d, ListSize) for d in member.directives):
                continue  # a field a type inherits is met once per type that has it
            # From the resolver's signature: reading ``member.arguments`` this early would fix
            # them before extensions (relay's ``node(id:)``) add theirs.
            resolver = member.base_resolver
            arguments = set(inspect.signature(resolver.wrapped_func).parameters) if resolver else set()
            if {"first", "last"} <= arguments:
                member.directives.append(
                    ListSize(
                        assumed_size=DEFAULT_PAGE,
                        slicing_arguments=["first", "last"],
                        sized_fields=["edges", "nodes"],
                        require_one_slicing_argument=False,
                    )
                )
            _, is_list = _unwrap(member.type)
            if is_list and not (definition.name.endswith("Connection") and member.name in ("edges", "nodes")):
                name = f"{definition.name}.{member.graphql_name or to_camel_case(member.python_name)}"
                size = LIST_SIZES.get(name, DEFAULT_LIST_SIZE)
                member.directives.append(
                    ListSize(
                        assumed_size=size,
                        slicing_arguments=UNSET,
                        sized_fields=UNSET,
                        require_one_slicing_argument=False,
                    )
                )


def reachable_types(roots: list[type]) -> Iterator[tuple[type, Any]]:
    """The Strawberry types reachable from ``roots`` through their fields, with their definitions."""
    seen: set[type] = set()
    pending = list(roots)
    while pending:
        cls = pending.pop()
        definition = getattr(cls, "__strawberry_definition__", None)
        if definition is None or cls in seen:
            continue
        seen.add(cls)
        yield cls, definition
        for member in definition.fields:
            inner, _ = _unwrap(member.type)
            if isinstance(inner, type):
                pending.append(inner)


def _unwrap(type_: Any) -> tuple[Any, bool]:
    is_list = False
    while True:
        if isinstance(type_, StrawberryOptional):
            type_ = type_.of_type
        elif isinstance(type_, StrawberryList):
            is_list, type_ = True, type_.of_type
        elif isinstance(type_, LazyType):
            type_ = type_.resolve_type()
        else:
            return type_, is_list


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)
