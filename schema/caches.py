"""Parsing cached across requests, without losing how syntax errors are reported."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any, ClassVar

import orjson
from graphql.error import GraphQLError
from strawberry.extensions import ParserCache, SchemaExtension

__all__ = ["VARIABLES_CACHED_BYTES", "DocumentCache", "TextValidationCache", "variables_key"]

VARIABLES_CACHED_BYTES = 4096
"""Requests whose variables are larger than this are measured and planned afresh, not kept."""


def variables_key(variables: dict[str, Any] | None) -> bytes | None:
    """A request's variables as a cache key, or None when they should not be one (too large,
    nested deeper than orjson goes, or holding a lone surrogate)."""
    try:
        key = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return None
    return key if len(key) <= VARIABLES_CACHED_BYTES else None


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


class TextValidationCache(SchemaExtension):
    """Strawberry's ValidationCache, keyed by the document's text instead of its parsed tree.

    Strawberry's key is the ``DocumentNode``, which graphql-core hashes node by node on
    every lookup (8 % of a compiled request's CPU here); the text names the same tree,
    since parsing is cached by text too.
    """

    _cache: ClassVar[OrderedDict[tuple[Any, ...], list[GraphQLError]]] = OrderedDict()

    def __init__(self, maxsize: int) -> None:
        super().__init__()
        self.maxsize = maxsize

    def on_validate(self) -> Iterator[None]:
        from strawberry.schema.schema import validate_document

        execution = self.execution_context
        key = (id(execution.schema), execution.query, tuple(execution.validation_rules))
        errors = self._cache.get(key)
        if errors is None:
            errors = validate_document(execution.schema._schema, execution.graphql_document, execution.validation_rules)
            self._cache[key] = errors
            if len(self._cache) > self.maxsize:
                self._cache.popitem(last=False)
        execution.pre_execution_errors = errors
        yield
