"""A saved operation's lists as tables, read from its selection set, not from its data.

A *list* is a field of list type, or a connection (its ``nodes``, or ``edges { node }``),
reached from the root through to-one objects. Its *columns* are the response keys (alias or
field name) its items select, in the order the operation selects them, fragments expanded
where they stand and a key selected twice counted once; a to-one object's fields become
dotted columns (``district.region.name``); a list inside an item (``starAwards``, a nested
connection's ``nodes``) is one column holding its JSON. So the columns are the same for
every result, an empty one included.

Each list is fetched by a document of its own, pruned to the path to it, so that paging one
list does not run the others again: ``first`` page, then ``next`` pages with
``after: $_exportAfter``. A connection is read in the largest pages (``first`` is
``LIAISON_MAX_PAGE_SIZE``, whatever the operation asks: the export takes the whole list),
and its pages carry ``pageInfo`` and ``totalCount`` under aliases of their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    IntValueNode,
    NamedTypeNode,
    NameNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    VariableDefinitionNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_leaf_type,
    is_list_type,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor

from resolvers.selection import Selected, Selections, fragments_of, subselections

__all__ = ["AFTER", "PAGE", "TOTAL", "Column", "NotExportable", "Table", "tables_of"]

AFTER = "_exportAfter"
"""The variable the next pages' documents take their cursor in."""
PAGE = "_exportPage"
TOTAL = "_exportTotal"


class NotExportable(Exception):
    """The operation holds no list to export, or one the export cannot page through."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Column:
    name: str
    """The dotted response keys, as the header shows it."""
    path: tuple[str, ...]
    type: GraphQLNamedType | None
    """The leaf's type; None for a list inside an item, written as its JSON."""

    def value(self, item: Any) -> Any:
        for key in self.path:
            if not isinstance(item, dict):
                return None
            item = item.get(key)
        if self.type is None and item is not None:
            return json.dumps(item, ensure_ascii=False, separators=(",", ":"))
        return item


@dataclass(frozen=True)
class Table:
    path: tuple[str, ...]
    """Response keys from the data's root to the list (or connection) field."""
    columns: tuple[Column, ...]
    items: tuple[str, ...]
    """Keys from the connection object to its items: ``("nodes",)`` or ``("edges", "node")``;
    empty for a plain list."""
    first: str
    """The document of the first page (the operation's own ``after``, if it has one)."""
    next: str | None
    """The document of the following pages, taking ``$_exportAfter``; None: one page holds it all."""
    leaf: bool = False
    """A list of scalars: one column, the item itself."""

    @property
    def name(self) -> str:
        return ".".join(self.path)

    def page(self, data: Any) -> tuple[list[Any], int, str | None]:
        """A page's items, the list's total and the cursor after them (None at the end)."""
        found = data
        for key in self.path:
            found = found.get(key) if isinstance(found, dict) else None
        if not self.items:
            items = found if isinstance(found, list) else []
            return items, len(items), None
        if not isinstance(found, dict):
            return [], 0, None
        if len(self.items) == 1:
            items = found.get(self.items[0]) or []
        else:
            items = [
                edge.get(self.items[1]) if isinstance(edge, dict) else None for edge in found.get(self.items[0]) or []
            ]
        info = found.get(PAGE) or {}
        cursor = info.get("endCursor") if info.get("hasNextPage") else None
        return items, found.get(TOTAL) or 0, cursor

    def row(self, item: Any) -> list[Any]:
        if self.leaf:
            return [item]
        return [column.value(item) for column in self.columns]


def _field_type(selected: Selected) -> Any:
    if selected.name == "__typename":
        return GraphQLString
    assert isinstance(selected.owner, GraphQLObjectType | GraphQLInterfaceType)
    return selected.owner.fields[selected.name].type


class _Planner:
    def __init__(
        self, schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, page_size: int
    ):
        self.schema, self.document, self.operation, self.page_size = schema, document, operation, page_size
        self.fragments = fragments_of(document)
        # Read without the request's variables: a column is there whatever ``@skip``/``@include`` decide.
        self.walker = Selections(schema, self.fragments)

    def tables(self) -> list[Table]:
        root = self.schema.query_type
        assert root is not None
        found: list[Table] = []
        self._walk(root, self.operation.selection_set, (), [], found)
        return found

    def _walk(
        self,
        parent: GraphQLCompositeType,
        selections: SelectionSetNode,
        path: tuple[str, ...],
        chain: list[Selected],
        found: list[Table],
    ) -> None:
        for key, selected in self.walker.grouped(parent, selections).items():
            type_ = _field_type(selected)
            named = get_named_type(type_)
            if is_list_type(get_nullable_type(type_)):
                found.append(self._list(selected, named, (*path, key), chain))
            elif isinstance(named, GraphQLObjectType | GraphQLInterfaceType):
                if "pageInfo" in named.fields and ("nodes" in named.fields or "edges" in named.fields):
                    table = self._connection(selected, named, (*path, key), chain)
                    if table is not None:
                        found.append(table)
                else:
                    self._walk(named, subselections(selected.nodes), (*path, key), [*chain, selected], found)

    def _list(self, selected: Selected, named: Any, path: tuple[str, ...], chain: list[Selected]) -> Table:
        document = self._document(chain, _merged(selected, ()))
        if is_leaf_type(named):
            return Table(path, (Column(path[-1], (), named),), (), document, None, leaf=True)
        return Table(path, tuple(self._columns(named, subselections(selected.nodes), ())), (), document, None)

    def _connection(
        self, selected: Selected, named: GraphQLObjectType | GraphQLInterfaceType, path: tuple[str, ...], chain: list
    ) -> Table | None:
        inner = self.walker.grouped(named, subselections(selected.nodes))
        items: tuple[str, ...] | None = None
        item_type: Any = get_named_type(named.fields["nodes"].type) if "nodes" in named.fields else None
        for key, child in inner.items():
            if child.name == "nodes":
                items, item_nodes = (key,), child.nodes
                break
        else:
            for key, child in inner.items():
                if child.name == "edges":
                    edge_type: Any = get_named_type(named.fields["edges"].type)
                    edge = self.walker.grouped(edge_type, subselections(child.nodes))
                    node_key = next((k for k, e in edge.items() if e.name == "node"), None)
                    if node_key is not None:
                        item_type = get_named_type(edge_type.fields["node"].type)
                        items, item_nodes = (key, node_key), edge[node_key].nodes
                        break
        if items is None:
            return None  # only counts: nothing to list
        arguments = {a.name.value: a for a in selected.nodes[0].arguments or ()}
        if "last" in arguments or "before" in arguments:
            raise NotExportable(
                "NOT_EXPORTABLE",
                f"`{'.'.join(path)}` pages backwards (`last`/`before`); an export follows cursors forwards.",
            )
        extra = (_aliased(PAGE, "pageInfo", ("hasNextPage", "endCursor")), _aliased(TOTAL, "totalCount", ()))
        # The whole list is exported whatever ``first`` the operation asks: in the largest pages.
        arguments["first"] = ArgumentNode(name=NameNode(value="first"), value=IntValueNode(value=str(self.page_size)))
        first = self._document(chain, _merged(selected, extra, tuple(arguments.values())))
        arguments["after"] = ArgumentNode(name=NameNode(value="after"), value=VariableNode(name=NameNode(value=AFTER)))
        following = self._document(chain, _merged(selected, extra, tuple(arguments.values())), after=True)
        return Table(path, tuple(self._columns(item_type, subselections(item_nodes), ())), items, first, following)

    def _columns(
        self, parent: GraphQLCompositeType, selections: SelectionSetNode, prefix: tuple[str, ...]
    ) -> Iterator[Column]:
        for key, selected in self.walker.grouped(parent, selections).items():
            type_ = _field_type(selected)
            named = get_named_type(type_)
            path = (*prefix, key)
            if is_list_type(get_nullable_type(type_)):
                yield Column(".".join(path), path, None)
            elif is_leaf_type(named):
                yield Column(".".join(path), path, named)
            else:
                yield from self._columns(named, subselections(selected.nodes), path)

    def _document(self, chain: list[Selected], leaf: FieldNode, *, after: bool = False) -> str:
        """The operation pruned to ``chain`` and then ``leaf``, with only the variables and
        fragments it still uses (GraphQL refuses unused ones)."""
        selection = leaf
        for outer in reversed(chain):
            selection = _merged(outer, (), None, SelectionSetNode(selections=(selection,)))
        used_fragments = _spreads(selection, self.fragments)
        definitions = [self.fragments[name] for name in used_fragments]
        names = _variables([selection, *definitions])
        declared = [v for v in self.operation.variable_definitions or () if v.variable.name.value in names]
        if after:
            declared.append(
                VariableDefinitionNode(
                    variable=VariableNode(name=NameNode(value=AFTER)),
                    type=_named_type_node("String"),
                    directives=(),
                )
            )
        operation = OperationDefinitionNode(
            operation=self.operation.operation,
            name=self.operation.name,
            variable_definitions=tuple(declared),
            directives=self.operation.directives,
            selection_set=SelectionSetNode(selections=(selection,)),
        )
        return print_ast(DocumentNode(definitions=(operation, *definitions)))


def _named_type_node(name: str) -> NamedTypeNode:
    return NamedTypeNode(name=NameNode(value=name))


def _aliased(alias: str, name: str, leaves: tuple[str, ...]) -> FieldNode:
    inner = SelectionSetNode(
        selections=tuple(FieldNode(name=NameNode(value=n), arguments=(), directives=()) for n in leaves)
    )
    return FieldNode(
        alias=NameNode(value=alias),
        name=NameNode(value=name),
        arguments=(),
        directives=(),
        selection_set=inner if leaves else None,
    )


def _merged(
    selected: Selected,
    extra: tuple[SelectionNode, ...],
    arguments: tuple[ArgumentNode, ...] | None = None,
    selection_set: SelectionSetNode | None = None,
) -> FieldNode:
    """The key's field as one node: its first node's name, alias, arguments and directives,
    and the sub-selections of all its nodes (or ``selection_set``)."""
    node = selected.nodes[0]
    if selection_set is None and node.selection_set is not None:
        selection_set = SelectionSetNode(selections=(*subselections(selected.nodes).selections, *extra))
    return FieldNode(
        alias=node.alias,
        name=node.name,
        arguments=node.arguments if arguments is None else arguments,
        directives=node.directives,
        selection_set=selection_set,
    )


class _Names(Visitor):
    """The fragments a node spreads and the variables it uses."""

    def __init__(self) -> None:
        super().__init__()
        self.spreads: list[str] = []
        self.variables: set[str] = set()

    def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
        self.spreads.append(node.name.value)

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        self.variables.add(node.name.value)


def _names(node: Any) -> _Names:
    names = _Names()
    visit(node, names)
    return names


def _spreads(node: Any, fragments: dict[str, FragmentDefinitionNode]) -> list[str]:
    """Names of the fragments ``node`` spreads, and those they spread, in order met."""
    found: list[str] = []
    pending = [node]
    while pending:
        for name in _names(pending.pop()).spreads:
            if name not in found:
                found.append(name)
                pending.append(fragments[name])
    return found


def _variables(nodes: list[Any]) -> set[str]:
    return set().union(*(_names(node).variables for node in nodes))


def tables_of(schema: GraphQLSchema, document: str, operation_name: str | None, page_size: int) -> list[Table]:
    """The operation's lists, in the order it selects them; ``NotExportable`` when it has none."""
    parsed = parse(document)
    operation = next(
        d
        for d in parsed.definitions
        if isinstance(d, OperationDefinitionNode)
        and (operation_name is None or (d.name and d.name.value == operation_name))
    )
    found = _Planner(schema, parsed, operation, page_size).tables()
    if not found:
        raise NotExportable("NOT_A_LIST", "The result holds no list to export as rows.")
    return found
