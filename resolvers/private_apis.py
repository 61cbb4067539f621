"""The private Strawberry and Starlette APIs the service relies on, and only here.

Each has no public equivalent in the pinned versions; tests/test_private_apis.py holds each
to the installed Strawberry and Starlette, so an upgrade is this file's work (and that
test's). Private methods that our subclasses override or read (``schema.errors``,
``schema.tracing``) cannot be wrapped: ``OVERRIDDEN`` names them for the same test.
May be imported by resolvers/, schema/ and api/.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo, GraphQLSchema
from starlette.requests import Request
from strawberry.extensions import MaskErrors
from strawberry.extensions.tracing.apollo_federation import ApolloFederationTracingExtension
from strawberry.schema.schema import validate_document

__all__ = [
    "OVERRIDDEN",
    "graphql_info",
    "graphql_schema",
    "keep_body",
    "provided_operation_name",
    "validate_document",
]

OVERRIDDEN: tuple[tuple[type, str], ...] = (
    (MaskErrors, "_process_errors"),  # schema.errors.ClientErrors: codes every error
    (ApolloFederationTracingExtension, "_check_should_trace"),  # schema.tracing: the router only
    (ApolloFederationTracingExtension, "_make_error"),  # schema.tracing: masked messages in traces
    (ApolloFederationTracingExtension, "_should_trace"),  # schema.tracing: read per field
)
"""Strawberry's private methods and attributes that our subclasses override or read."""


def graphql_schema(schema: Any) -> GraphQLSchema:
    """graphql-core's schema under a Strawberry schema (validation, planning, type lookups)."""
    return schema._schema


def provided_operation_name(execution: Any) -> str | None:
    """The operationName the request gave, if any: Strawberry's ``operation_name`` falls back
    to the document's first operation, which the spec forbids when there are several."""
    return execution._provided_operation_name


def graphql_info(info: Any) -> GraphQLResolveInfo:
    """graphql-core's resolve info under Strawberry's ``Info`` (its document's fragments)."""
    return info._raw_info


def keep_body(request: Request, body: bytes) -> None:
    """Make ``body`` what ``request.body()`` returns from now on: admission read the stream
    itself (to bound its size and time), and Strawberry reads it again."""
    request._body = body
