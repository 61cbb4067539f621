"""Where a compiled plan reads request values, so that a plan made once per variable shape
can be bound to the next request's values without planning or rendering again.

The operation compiler reads values in a few places, the *sites*: a connection's arguments
(``Listing.request``), a lookup's key, a statistics period (of summaries, or of tallies over
dated rows), the global ids of ``node`` and ``nodes``. A site converts and validates its
arguments with the functions the resolvers call (so a refused value raises ``NotCompiled``
here, and the generic path words the
error), and splits what it found into its *structure*, what the SQL text depends on (a
filter's predicates, the order, which sizes and cursors are given, a period's bounds, each
global id's type), and its *values*, which become ``$n`` parameters. A plan made for a shape
holds ``Slot``s where the values go; the ``Binder`` runs the same sites, in the same order,
on another request's variables.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import FieldNode, GraphQLObjectType, GraphQLSchema, Node
from graphql.execution.values import get_argument_values
from strawberry.relay import GlobalID
from strawberry.types.arguments import convert_argument
from strawberry.types.base import StrawberryMaybe, StrawberryOptional

from db.access import Viewer
from db.model import Table
from db.plan import Slot
from db.sql import Page

from .errors import BadUserInput
from .listings import Listing, PageRequest
from .stats import period_bounds

__all__ = [
    "Arguments",
    "Binder",
    "ListingSite",
    "LookupSite",
    "NodesSite",
    "NotCompiled",
    "PeriodSite",
    "Site",
    "TalliesSite",
]


class NotCompiled(Exception):
    """The operation runs on the generic path; ``static``: for every request of its document."""

    def __init__(self, reason: str, *, static: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.static = static


class Site(Protocol):
    @property
    def node(self) -> FieldNode:
        """The field's arguments, without locations: all a site keeps of the document."""

    def found(self, variables: Any, viewer: Viewer, max_page: int) -> Any:
        """What the site reads from ``variables``, validated; NotCompiled when refused."""

    def split(self, found: Any) -> tuple[Any, tuple[Any, ...]]:
        """``found`` as (structure, values)."""

    def marked(self, found: Any, first: int) -> Any:
        """``found`` with ``Slot(first)``, ``Slot(first + 1)`` ... in place of its values."""


def _slot(index: int) -> Any:
    """A ``Slot`` where a plan field's type names the value it stands for."""
    return Slot(index)


def _detached(node: Any) -> Any:
    """An AST node copied without locations, which would keep the whole document's tokens alive."""
    if isinstance(node, Node):
        return type(node)(**{key: _detached(getattr(node, key)) for key in node.keys if key != "loc"})
    if isinstance(node, tuple | list):
        return tuple(_detached(item) for item in node)
    return node


@dataclass(frozen=True)
class Arguments:
    """A field's arguments as its resolver gets them: converted by Strawberry."""

    definition: Any
    node: FieldNode
    strawberry: Any
    """The Strawberry schema, whose converter turns GraphQL values into Python ones."""
    converted: tuple[tuple[str, str, Any], ...]
    """Each argument's Python name, GraphQL name and Strawberry type: what Strawberry's
    ``convert_arguments`` works out again for every call (its name conversion was about a
    third of binding a connection's arguments)."""

    @classmethod
    def of(cls, definition: Any, strawberry_field: Any, node: FieldNode, strawberry: Any) -> Arguments:
        field = FieldNode(name=node.name, arguments=_detached(node.arguments))
        names = strawberry.config.name_converter
        converted = tuple((a.python_name, names.from_argument(a), a.type) for a in strawberry_field.arguments)
        return cls(definition, field, strawberry, converted)

    def values(self, variables: Any) -> dict[str, Any]:
        """As ``convert_arguments`` gives them to the resolver, with the names worked out once."""
        values = get_argument_values(self.definition, self.node, variables)
        registry, config = self.strawberry.schema_converter.scalar_registry, self.strawberry.config
        return {
            python: None
            if value is None and _nullable(type_)
            else convert_argument(value, type_, registry, config, path=(name,))
            for python, name, type_ in self.converted
            if (value := values.get(name, _ABSENT)) is not _ABSENT
        }


_ABSENT = object()


def _nullable(type_: Any) -> bool:
    """A plain optional type, whose null Strawberry converts to None (a ``Maybe`` makes it ``Some(None)``)."""
    return type(type_) is StrawberryOptional and not isinstance(type_.of_type, StrawberryMaybe)


@dataclass(frozen=True)
class ListingSite:
    """A connection's filter, order and page (``Listing.request``)."""

    arguments: Arguments
    listing: Listing

    @property
    def node(self) -> FieldNode:
        return self.arguments.node

    def found(self, variables: Any, viewer: Viewer, max_page: int) -> PageRequest:
        args = self.arguments.values(variables)
        try:
            return self.listing.request(
                args.get("filter"),
                args.get("order_by"),
                args.get("first"),
                args.get("after"),
                args.get("last"),
                args.get("before"),
                max_page=max_page,
            )
        except BadUserInput as refused:
            raise NotCompiled(f"refused arguments: {refused}", static=False) from refused

    def split(self, found: PageRequest) -> tuple[Any, tuple[Any, ...]]:
        page = found.page
        given = (page.first, page.after, page.last, page.before)
        structure = (
            tuple((p.sql, p.casts, len(p.values)) for p in found.where),
            found.order,
            found.order_name,
            tuple(part is None for part in given),
        )
        values = [v for p in found.where for v in p.values]
        for part in given:
            if isinstance(part, tuple):
                values += part
            elif part is not None:
                values.append(part)
        return structure, tuple(values)

    def marked(self, found: PageRequest, first: int) -> PageRequest:
        slots = itertools.count(first)
        where = tuple(dataclasses.replace(p, values=tuple(_slot(next(slots)) for _ in p.values)) for p in found.where)
        page = found.page
        parts: list[Any] = []
        for part in (page.first, page.after, page.last, page.before):
            if isinstance(part, tuple):
                parts.append(tuple(_slot(next(slots)) for _ in part))
            else:
                parts.append(None if part is None else _slot(next(slots)))
        return dataclasses.replace(found, where=where, page=Page(*parts))


@dataclass(frozen=True)
class LookupSite:
    """A root lookup's key (``contactPoint(code:)``)."""

    arguments: Arguments
    argument: str

    @property
    def node(self) -> FieldNode:
        return self.arguments.node

    def found(self, variables: Any, viewer: Viewer, max_page: int) -> Any:
        return self.arguments.values(variables)[self.argument]

    def split(self, found: Any) -> tuple[Any, tuple[Any, ...]]:
        return (), (found,)

    def marked(self, found: Any, first: int) -> Any:
        return _slot(first)


@dataclass(frozen=True)
class PeriodSite:
    """A statistics period: its bounds pick the summary rows (years, months, days) to add,
    so they are structure, not values."""

    arguments: Arguments
    counted: Table

    @property
    def node(self) -> FieldNode:
        return self.arguments.node

    def found(self, variables: Any, viewer: Viewer, max_page: int) -> Any:
        try:
            return period_bounds(viewer, self.arguments.values(variables).get("period"), self.counted)
        except BadUserInput as refused:
            raise NotCompiled(f"refused arguments: {refused}", static=False) from refused

    def split(self, found: Any) -> tuple[Any, tuple[Any, ...]]:
        return found, ()

    def marked(self, found: Any, first: int) -> Any:
        return found


@dataclass(frozen=True)
class TalliesSite:
    """Figures over a ``period`` argument (``Tallies.during``): the period bounds the days of
    their rows, and whether each bound is given shapes the SQL, so the figures are structure."""

    arguments: Arguments
    during: Callable[[Any], dict[str, Any]]

    @property
    def node(self) -> FieldNode:
        return self.arguments.node

    def found(self, variables: Any, viewer: Viewer, max_page: int) -> dict[str, Any]:
        try:
            return self.during(self.arguments.values(variables).get("period"))
        except BadUserInput as refused:
            raise NotCompiled(f"refused arguments: {refused}", static=False) from refused

    def split(self, found: dict[str, Any]) -> tuple[Any, tuple[Any, ...]]:
        return tuple(found.items()), ()

    def marked(self, found: dict[str, Any], first: int) -> dict[str, Any]:
        return found


NodeTarget = tuple[GraphQLObjectType, Table, str, Any] | None
"""A global id's type, table, key column and key; None for a key no row can have."""


@dataclass(frozen=True)
class NodesSite:
    """The global ids of ``node(id:)`` or ``nodes(ids:)``: each one's type picks its table."""

    schema: GraphQLSchema
    definition: Any
    node: FieldNode
    many: bool

    @classmethod
    def of(cls, schema: GraphQLSchema, definition: Any, node: FieldNode, many: bool) -> NodesSite:
        return cls(schema, definition, FieldNode(name=node.name, arguments=_detached(node.arguments)), many)

    def found(self, variables: Any, viewer: Viewer, max_page: int) -> tuple[NodeTarget, ...]:
        values = get_argument_values(self.definition, self.node, variables)
        return tuple(self._target(raw) for raw in (values["ids"] if self.many else [values["id"]]))

    def _target(self, raw: Any) -> NodeTarget:
        try:
            global_id = raw if isinstance(raw, GlobalID) else GlobalID.from_id(raw)
        except Exception as exc:  # strawberry raises several kinds for a malformed id
            raise NotCompiled("a malformed global id", static=False) from exc
        runtime = self.schema.get_type(global_id.type_name)
        source = None
        if isinstance(runtime, GraphQLObjectType):
            source = getattr(runtime.extensions["strawberry-definition"].origin, "node_source", None)
        if source is None or not isinstance(runtime, GraphQLObjectType):
            raise NotCompiled("a global id of no known node type", static=False)
        table, column = source
        key: Any = global_id.node_id
        if column == "id":
            if not (key.isascii() and key.isdigit() and len(key) < 19):
                return None
            key = int(key)
        return runtime, table, column, key

    def split(self, found: tuple[NodeTarget, ...]) -> tuple[Any, tuple[Any, ...]]:
        structure = tuple(None if t is None else (t[0].name, t[2]) for t in found)
        return structure, tuple(t[3] for t in found if t is not None)

    def marked(self, found: tuple[NodeTarget, ...], first: int) -> tuple[NodeTarget, ...]:
        slots = itertools.count(first)
        return tuple(None if t is None else (*t[:3], _slot(next(slots))) for t in found)


@dataclass(frozen=True)
class Binder:
    """The sites of a plan made for one shape, in the order the compiler met them."""

    sites: tuple[Site, ...]

    def bind(self, variables: Any, viewer: Viewer, max_page: int) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        """This request's structure and values; NotCompiled for a value the resolvers refuse."""
        structure: list[Any] = []
        values: list[Any] = []
        for site in self.sites:
            part, found = site.split(site.found(variables, viewer, max_page))
            structure.append(part)
            values += found
        return tuple(structure), tuple(values)
