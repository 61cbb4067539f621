"""Parsing cached across requests, without losing how syntax errors are reported."""

from __future__ import annotations

from collections.abc import Iterator

from graphql.error import GraphQLError
from strawberry.extensions import ParserCache

__all__ = ["DocumentCache"]


class DocumentCache(ParserCache):
    """Strawberry's ParserCache, except that a document that does not parse is left to
    Strawberry, which parses it again inside its own error handling (so the syntax error
    gets its code); failures are not cached by ``lru_cache`` either way."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        try:
            context.graphql_document = self.cached_parse_document(context.query, **context.parse_options)
        except GraphQLError:
            context.graphql_document = None
        yield
