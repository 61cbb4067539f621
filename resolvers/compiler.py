"""The operation compiler: a validated query document as a ``db.plan``, or why not.

It walks the operation as graphql-core's executor would (``resolvers.selection``: fragments
flattened, ``@skip``/``@include`` applied, aliases as response keys) and reads each field's
mapping from the schema itself: plain fields are columns of their type's table, relations carry their
``Relation``/``Listing``/``Lookup`` (``resolvers.relations``, ``resolvers.listings``), which the
loaders of the generic path follow as well. Arguments are converted by Strawberry and
validated by the same functions the resolvers call, so a request the generic path would
refuse is refused here too, and then runs on the generic path, which words the error.
Where it reads request values it goes through ``resolvers.bindings``' sites, so that a plan
can be made once per variable shape (``Compiler.shape``) and bound to other values.

What it does not know (a resolver without a mapping, an abstract type, a field the viewer
may not read) raises ``NotCompiled``; ``static`` says whether the reason holds for every
request of the document, so the decision can be kept per document and role.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, TypeVar

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from strawberry.permission import PermissionExtension

from db import plan
from db.access import Viewer
from db.model import Table
from db.plan import Root
from db.stats import TALLY, Breakdown, Tally

from .bindings import (
    Arguments,
    Binder,
    ListingSite,
    LookupSite,
    NodesSite,
    NotCompiled,
    PeriodSite,
    Site,
    TalliesSite,
)
from .entities import EntitiesSite
from .listings import Listing, PageRequest
from .private_apis import graphql_schema
from .relations import AllRows, ByKeys, Computed, Either, Lookup, Relation, Statistics, Summarised, Tallies
from .selection import Selections, directives_allow, fragments_of, subselections

__all__ = ["Compiler", "NotCompiled", "Shaped"]

_FORMS: dict[str, plan.Form] = {"DateTime": "datetime", "Decimal": "decimal", "Float": "float"}
_PLAIN = frozenset({"String", "Boolean", "Int", "Date"})
_PARTS: dict[str, Literal["edges", "nodes", "totalCount", "pageInfo"]] = {
    name: name for name in ("edges", "nodes", "totalCount", "pageInfo")
}
_EDGE: dict[str, plan.EdgeField] = {"cursor": "cursor", "node": "node"}
_PAGE_INFO: dict[str, plan.PageInfoField] = {
    name: name for name in ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor")
}


_Part = TypeVar("_Part", bound=str)


@dataclass(frozen=True)
class Shaped:
    """A plan for every request of one variable shape: ``root`` holds ``Slot``s where this
    request's ``values`` go, and ``binder`` finds another request's (``resolvers.bindings``);
    ``structure`` is what the SQL text depends on beyond the shape."""

    root: plan.Root
    binder: Binder
    structure: tuple[Any, ...]
    values: tuple[Any, ...]


class Compiler:
    """Plans for one Strawberry schema; ``plan`` is called per request, after validation."""

    def __init__(self, strawberry_schema: Any) -> None:
        self.strawberry = strawberry_schema
        self.schema: GraphQLSchema = graphql_schema(strawberry_schema)

    def plan(
        self,
        document: Any,
        operation: OperationDefinitionNode,
        variables: Any,
        viewer: Viewer,
        max_page: int,
    ) -> plan.Root:
        """The plan of this request, with its values in it."""
        return self._walk(document, operation, variables, viewer, max_page, marking=False)[0]

    def shape(
        self,
        document: Any,
        operation: OperationDefinitionNode,
        variables: Any,
        viewer: Viewer,
        max_page: int,
    ) -> Shaped:
        """The plan of every request of this one's variable shape: what the SQL text depends on
        is the same for all of them but for ``structure``."""
        root, walk = self._walk(document, operation, variables, viewer, max_page, marking=True)
        return Shaped(root, Binder(tuple(walk.sites)), tuple(walk.structure), tuple(walk.values))

    def _walk(
        self,
        document: Any,
        operation: OperationDefinitionNode,
        variables: Any,
        viewer: Viewer,
        max_page: int,
        *,
        marking: bool,
    ) -> tuple[Root, _Walk]:
        if operation.operation.value != "query":
            raise NotCompiled(f"a {operation.operation.value} runs on the generic path")
        walk = _Walk(self, document, variables, viewer, max_page, marking)
        query = self.schema.query_type
        assert query is not None
        return plan.Root(walk.selection(query, None, operation.selection_set)), walk


def _directives_allow(node: Any, variables: Any) -> bool:
    """``directives_allow``; a value graphql-core refuses there (a null ``if``) is left to the
    generic path, which words it as the executor does."""
    try:
        return directives_allow(node, variables)
    except GraphQLError as refused:
        raise NotCompiled(f"a directive's argument is refused: {refused.message}", static=False) from refused


class _Walk:
    def __init__(
        self, compiler: Compiler, document: Any, variables: Any, viewer: Viewer, max_page: int, marking: bool
    ) -> None:
        self.compiler = compiler
        self.schema = compiler.schema
        self.walker = Selections(self.schema, fragments_of(document), partial(_directives_allow, variables=variables))
        self.variables = variables
        self.viewer = viewer
        self.max_page = max_page
        self.marking = marking
        self.sites: list[Site] = []
        self.structure: list[Any] = []
        self.values: list[Any] = []

    def bound(self, site: Site) -> Any:
        """What ``site`` reads from this request, validated, as the plan holds it: with its
        values in it, or (``marking``) with ``Slot``s in their place."""
        found = site.found(self.variables, self.viewer, self.max_page)
        structure, values = site.split(found)
        first = len(self.values)
        self.sites.append(site)
        self.structure.append(structure)
        self.values += values
        return site.marked(found, first) if self.marking else found

    # -- fields

    def selection(self, parent: GraphQLObjectType, table: Table | None, selections: SelectionSetNode) -> plan.Selection:
        fields: list[plan.Field] = []
        for key, nodes in self.walker.collect(parent, selections).items():
            name = nodes[0].name.value
            if name == "__typename":
                fields.append(plan.Constant(key, parent.name))
                continue
            if name.startswith("__"):
                raise NotCompiled("introspection runs on the generic path")
            fields.append(self.field(key, parent, table, name, nodes))
        return tuple(fields)

    def field(
        self, key: str, parent: GraphQLObjectType, table: Table | None, name: str, nodes: list[FieldNode]
    ) -> plan.Field:
        definition = parent.fields[name]
        strawberry_field = definition.extensions.get("strawberry-definition")
        where = f"{parent.name}.{name}"
        if strawberry_field is None:
            raise NotCompiled(f"{where} is not a Strawberry field")
        if parent is self.schema.query_type and name in ("node", "nodes"):
            return self._nodes(key, name, definition, nodes)
        if parent is self.schema.query_type and name == "_entities":
            return self._entities(key, definition, nodes)
        self._check_access(strawberry_field, where)
        named = get_named_type(definition.type)
        source = getattr(parent.extensions["strawberry-definition"].origin, "node_source", None)
        if name == "id" and source is not None and table is source[0]:
            return plan.GlobalId(key, parent.name, source[1])
        resolver = strawberry_field.base_resolver
        if resolver is None:
            if table is None or strawberry_field.python_name not in table.columns:
                raise NotCompiled(f"{where} is not a column of the mapping")
            return self._scalar(key, strawberry_field.python_name, named, where)
        spec = getattr(resolver.wrapped_func, "compiled", None)
        if isinstance(spec, Computed):
            return plan.InSet(key, spec.column, spec.values)
        if isinstance(spec, Either) and isinstance(named, GraphQLUnionType):
            first, second = (
                self._member(key, named, relation, subselections(nodes)) for relation in (spec.first, spec.second)
            )
            return plan.Either(key, spec.column, first, second)
        if not isinstance(named, GraphQLObjectType):
            raise NotCompiled(f"{where} returns an abstract type or a computed value")
        merged = subselections(nodes)
        if isinstance(spec, Relation):
            link = plan.Link(spec.column, spec.attr) if spec.via is None else plan.Link(spec.column, via=spec.via)
            return plan.Rows(key, spec.table, link, self.selection(named, spec.table, merged), spec.many)
        if isinstance(spec, Statistics):
            return plan.Scoped(key, spec.scope, spec.attr, self.selection(named, None, merged))
        if isinstance(spec, Tallies):
            tallies = spec.tallies
            if spec.during is not None:
                arguments = Arguments.of(definition, strawberry_field, nodes[0], self.compiler.strawberry)
                tallies = self.bound(TalliesSite(arguments, spec.during))
            figures = self._tallies(named, tallies, merged)
            if spec.scope is not None:
                return plan.Scoped(key, spec.scope, spec.attr, figures)
            return plan.Nested(key, figures)
        if isinstance(spec, Tally | Breakdown):
            return plan.Counted(key, spec, self.selection(named, TALLY, merged))
        if isinstance(spec, ByKeys):
            selection = self.selection(named, spec.table, merged)
            rows = (
                plan.Rows(key, spec.table, plan.Link(spec.column, value=k, cast="text"), selection) for k in spec.keys
            )
            return plan.Sequence(key, tuple(rows))
        if isinstance(spec, AllRows):
            return plan.Rows(key, spec.table, None, self.selection(named, spec.table, merged), many=True)
        arguments = Arguments.of(definition, strawberry_field, nodes[0], self.compiler.strawberry)
        if isinstance(spec, Summarised):
            start, before = self.bound(PeriodSite(arguments, spec.counted))
            return plan.Summary(key, spec.figures, start, before, self.selection(named, spec.figures, merged))
        if isinstance(spec, Lookup):
            link = plan.Link(spec.column, value=self.bound(LookupSite(arguments, spec.argument)), cast="text")
            return plan.Rows(key, spec.table, link, self.selection(named, spec.table, merged))
        if isinstance(spec, Listing):
            return self._connection(key, spec, named, self.bound(ListingSite(arguments, spec)), merged)
        raise NotCompiled(f"{where} has no compiled form")

    def _member(self, key: str, union: GraphQLUnionType, relation: Relation, merged: SelectionSetNode) -> plan.Rows:
        """The row of ``relation`` as the member of ``union`` whose table it is (its ``is_type_of``)."""
        for runtime in union.types:
            source = getattr(runtime.extensions["strawberry-definition"].origin, "node_source", None)
            if source is not None and source[0] is relation.table:
                selection = self.selection(runtime, relation.table, merged)
                return plan.Rows(key, relation.table, plan.Link(relation.column, relation.attr), selection)
        raise NotCompiled(f"{union.name} has no member reading {relation.table.name}")

    def _tallies(
        self, figures: GraphQLObjectType, tallies: dict[str, Tally], merged: SelectionSetNode
    ) -> plan.Selection:
        fields: list[plan.Field] = []
        for key, nodes in self.walker.collect(figures, merged).items():
            name = nodes[0].name.value
            if name == "__typename":
                fields.append(plan.Constant(key, figures.name))
                continue
            definition = figures.fields[name]
            tally = tallies.get(definition.extensions["strawberry-definition"].python_name)
            if tally is None:
                raise NotCompiled(f"{figures.name}.{name} has no compiled form")
            groups: Any = get_named_type(definition.type)
            if not tally.by:
                fields.append(plan.Counted(key, tally))
            else:
                fields.append(plan.Counted(key, tally, self.selection(groups, TALLY, subselections(nodes))))
        return tuple(fields)

    def _check_access(self, strawberry_field: Any, where: str) -> None:
        for extension in strawberry_field.extensions:
            if not isinstance(extension, PermissionExtension):
                raise NotCompiled(f"{where} has a field extension the compiler does not know")
            for permission in extension.permissions:
                roles = getattr(permission, "roles", None)
                if roles is None or self.viewer.role not in roles:
                    raise NotCompiled(f"{where} is refused to the {self.viewer.role.value} role")

    def _scalar(self, key: str, column: str, named: Any, where: str) -> plan.Scalar:
        if isinstance(named, GraphQLEnumType):
            names = tuple((value.value, name) for name, value in named.values.items())
            return plan.Scalar(key, column, "enum", names)
        if named.name in _FORMS:
            return plan.Scalar(key, column, _FORMS[named.name])
        if named.name in _PLAIN:
            return plan.Scalar(key, column)
        raise NotCompiled(f"{where}: no SQL form for {named.name}")

    def _connection(
        self, key: str, listing: Listing, connection: GraphQLObjectType, asked: PageRequest, merged: SelectionSetNode
    ) -> plan.Paged:
        node_type: Any = get_named_type(connection.fields["nodes"].type)
        parts: list[tuple[str, plan.ConnectionPart]] = []
        node_nodes: list[FieldNode] = []
        edge_parts: list[tuple[str, plan.EdgeField | plan.Constant]] = []
        for part_key, (part, nodes) in self._known(connection, merged, _PARTS).items():
            if part == "pageInfo":
                page_type: Any = get_named_type(connection.fields["pageInfo"].type)
                info = self._known(page_type, subselections(nodes), _PAGE_INFO)
                parts.append((part_key, plan.PageInfo(tuple((k, what) for k, (what, _) in info.items()))))
                continue
            parts.append((part_key, part))
            if part == "nodes":
                node_nodes += nodes
            elif part == "edges":
                if edge_parts:
                    raise NotCompiled("two differently aliased `edges` of one connection")
                edge_type: Any = get_named_type(connection.fields["edges"].type)
                for edge_key, (edge_part, edge_nodes) in self._known(edge_type, subselections(nodes), _EDGE).items():
                    edge_parts.append((edge_key, edge_part))
                    if edge_part == "node":
                        node_nodes += edge_nodes
        if len({k for k, what in parts if what == "nodes"}) > 1 or len([e for e in edge_parts if e[1] == "node"]) > 1:
            raise NotCompiled("aliased copies of a connection's nodes")
        node_selection = self.selection(node_type, listing.table, subselections(node_nodes)) if node_nodes else ()
        link = None if listing.parent is None else plan.Link(listing.parent, listing.attr)
        return plan.Paged(
            key,
            listing.table,
            link,
            asked.where,
            asked.order,
            asked.order_name,
            asked.page,
            tuple(parts),
            node_selection,
            tuple(edge_parts),
        )

    def _known(
        self, runtime: GraphQLObjectType, selections: SelectionSetNode, known: Mapping[str, _Part]
    ) -> dict[str, tuple[_Part | plan.Constant, list[FieldNode]]]:
        """Each response key of a connection, edge or pageInfo object: the field ``known`` names,
        or ``__typename``; NotCompiled for any other field."""
        found: dict[str, tuple[_Part | plan.Constant, list[FieldNode]]] = {}
        for key, nodes in self.walker.collect(runtime, selections).items():
            name = nodes[0].name.value
            if name == "__typename":
                found[key] = plan.Constant(key, runtime.name), nodes
            elif name in known:
                found[key] = known[name], nodes
            else:
                raise NotCompiled(f"{runtime.name}.{name} has no compiled form")
        return found

    def _nodes(self, key: str, name: str, definition: Any, nodes: list[FieldNode]) -> plan.Rows | plan.Sequence:
        items: list[plan.Rows | None] = []
        for target in self.bound(NodesSite.of(self.schema, definition, nodes[0], many=name == "nodes")):
            if target is None:
                items.append(None)
                continue
            runtime, table, column, node_key = target
            link = plan.Link(column, value=node_key, cast="bigint" if column == "id" else "text")
            items.append(plan.Rows(key, table, link, self.selection(runtime, table, subselections(nodes))))
        if name == "node":
            if items[0] is None:
                raise NotCompiled("a global id of no row", static=False)
            return items[0]
        return plan.Sequence(key, tuple(items))

    def _entities(self, key: str, definition: Any, nodes: list[FieldNode]) -> plan.Entities:
        """Per entity type asked, its selection as a lookup by its key; why one cannot be
        compiled holds for requests asking that type only."""
        types, kinds, texts, ids = self.bound(EntitiesSite.of(self.schema, definition, nodes[0]))
        items = []
        for name in types:
            runtime: Any = self.schema.get_type(name)
            table, column = runtime.extensions["strawberry-definition"].origin.node_source
            link = plan.Link(column, "id" if column == "id" else "key")
            try:
                selection = self.selection(runtime, table, subselections(nodes))
            except NotCompiled as reason:
                raise NotCompiled(reason.reason, static=False) from reason
            items.append(plan.Rows(key, table, link, selection))
        return plan.Entities(key, kinds, texts, ids, tuple(items))
