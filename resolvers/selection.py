"""The fields of a selection set, walked as graphql-core's executor collects them: fragments
expanded where they stand, ``@skip``/``@include`` applied, aliases as response keys.

One walker for its three readers. The compiler (``resolvers.compiler``) collects for an object
of a known type, as the executor does: only the fragments that apply to it, each fragment
once per selection set. The cost (``schema.cost``) and the exports' columns (``api.tables``)
read what an operation *may* ask, whatever type an object turns out to be: every fragment,
each field with the type its fragment names, a fragment spread twice read twice (only a
fragment inside itself is passed over; validation refuses it).

graphql-core's own ``collect_fields`` is for its internal use (its signature changed
wholesale from 3.2 to 3.3) and answers only the first question; its public
``get_directive_values`` reads the directives here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLCompositeType,
    GraphQLIncludeDirective,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    NamedTypeNode,
    SelectionNode,
    SelectionSetNode,
    is_abstract_type,
)
from graphql.execution.values import VariableValues, get_directive_values

__all__ = ["Selected", "Selections", "directives_allow", "fragments_of", "subselections"]


def directives_allow(node: SelectionNode, variables: VariableValues | None) -> bool:
    """``@skip`` and ``@include`` as the executor reads them; raises graphql-core's error
    where it would (a null for ``if``)."""
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    if skip is not None and skip.get("if") is True:
        return False
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (include is not None and include.get("if") is False)


def _everything(_: SelectionNode) -> bool:
    return True


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    """The document's fragment definitions by name."""
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def subselections(nodes: list[FieldNode]) -> SelectionSetNode:
    """The sub-selections of every node of one response key, as one selection set."""
    return SelectionSetNode(
        selections=tuple(s for node in nodes if node.selection_set for s in node.selection_set.selections)
    )


@dataclass
class Selected:
    """One response key: its field nodes, in document order, and the type that declares the
    field where it is first selected (a fragment's type condition, else the parent)."""

    nodes: list[FieldNode]
    owner: GraphQLCompositeType

    @property
    def name(self) -> str:
        return self.nodes[0].name.value


@dataclass(frozen=True)
class Selections:
    """The selection sets of one document. ``included``: whether a selection's directives
    keep it (``directives_allow`` with the request's variables; by default every selection
    is kept, as for a document read without its variables). ``visit``: called on every
    selection met (inside fragments too), before its directives are read."""

    schema: GraphQLSchema
    fragments: Mapping[str, FragmentDefinitionNode]
    included: Callable[[SelectionNode], bool] = _everything
    visit: Callable[[SelectionNode], None] | None = None

    def fields(
        self, parent: GraphQLCompositeType, selections: SelectionSetNode
    ) -> Iterator[tuple[FieldNode, GraphQLCompositeType]]:
        """Every field the operation may ask here, in document order, with the type declaring it."""
        return self._walk(parent, selections, None, set())

    def grouped(self, parent: GraphQLCompositeType, selections: SelectionSetNode) -> dict[str, Selected]:
        """``fields`` by response key, in the order each key is first selected."""
        return _by_key(self.fields(parent, selections))

    def collect(self, runtime: GraphQLObjectType, selections: SelectionSetNode) -> dict[str, list[FieldNode]]:
        """The executor's grouped field set for an object of type ``runtime``."""
        found = _by_key(self._walk(runtime, selections, runtime, set()))
        return {key: selected.nodes for key, selected in found.items()}

    def _walk(
        self,
        owner: GraphQLCompositeType,
        selections: SelectionSetNode,
        runtime: GraphQLObjectType | None,
        spread: set[str],
    ) -> Iterator[tuple[FieldNode, GraphQLCompositeType]]:
        """``spread``: the fragments read so far; collecting for ``runtime``, in the whole
        selection set (the executor reads a fragment once), else on the path to here."""
        for selection in selections.selections:
            if self.visit is not None:
                self.visit(selection)
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                yield selection, owner
                continue
            inner = spread
            condition: NamedTypeNode | None
            if isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in spread:  # unknown, cyclic (validation refuses both) or read
                    continue
                inner = spread if runtime is not None else set(spread)
                inner.add(name)
                condition, body = fragment.type_condition, fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition, body = selection.type_condition, selection.selection_set
            typed: Any = self.schema.get_type(condition.name.value) if condition is not None else None
            if runtime is not None and condition is not None and not self._applies(typed, runtime):
                continue
            yield from self._walk(typed or owner, body, runtime, inner)

    def _applies(self, condition: Any, runtime: GraphQLObjectType) -> bool:
        if condition is runtime:
            return True
        return is_abstract_type(condition) and self.schema.is_sub_type(condition, runtime)


def _by_key(fields: Iterable[tuple[FieldNode, GraphQLCompositeType]]) -> dict[str, Selected]:
    found: dict[str, Selected] = {}
    for node, owner in fields:
        found.setdefault((node.alias or node.name).value, Selected([], owner)).nodes.append(node)
    return found
