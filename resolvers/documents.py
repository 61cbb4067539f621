"""Whether a document may be stored: one named query or mutation that validates against the schema.

Saved mutations are how trusted-documents-only clients write; they run by hash at POST
/graphql, never by name at ``/queries/{name}`` (a GET there must not write).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, OperationType, parse, validate

__all__ = ["Checked", "broken_documents", "check_document", "is_mutation"]


@dataclass(frozen=True)
class Checked:
    operation_name: str | None
    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def check_document(document: str, schema: GraphQLSchema) -> Checked:
    """Parse and validate ``document``; it must hold exactly one operation, a named query or mutation."""
    try:
        parsed = parse(document)
    except GraphQLError as exc:
        return Checked(None, (exc.message,))
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        return Checked(None, (f"A saved document holds exactly one operation; this one has {len(operations)}.",))
    operation = operations[0]
    name = operation.name.value if operation.name else None
    problems = []
    if name is None:
        problems.append("The operation needs a name: tools run it by that name.")
    if operation.operation is OperationType.SUBSCRIPTION:
        problems.append("Only queries and mutations are saved.")
    problems += [error.message for error in validate(schema, parsed)]
    return Checked(name, tuple(problems))


def is_mutation(document: str) -> bool:
    """Whether a saved (valid, single-operation) document is a mutation."""
    return any(
        isinstance(d, OperationDefinitionNode) and d.operation is OperationType.MUTATION
        for d in parse(document).definitions
    )


def broken_documents(documents: Iterable[tuple[str, str]], schema: GraphQLSchema) -> list[tuple[str, tuple[str, ...]]]:
    """Of (label, document) pairs, those that no longer validate, with why: run it after a
    schema change (and at start-up) so no saved query breaks silently."""
    broken = []
    for label, document in documents:
        checked = check_document(document, schema)
        if not checked.ok:
            broken.append((label, checked.errors))
    return broken
