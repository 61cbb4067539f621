"""What the service keeps between requests about documents, bounded by bytes, keyed by hashes.

A document's text is up to the body limit (100 KB) and its parse can be thirty times that,
so a cache bounded by entries lets one client pin gigabytes with distinct documents; a
cache keyed by the text holds the text itself. Each cache here is an LRU bounded by the
estimated bytes of its values (``cachetools.LRUCache`` with ``getsizeof``), keyed by a
SHA-256 digest of what identifies an entry.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import cachetools
import orjson
from graphql import DocumentNode, GraphQLError, Node, OperationDefinitionNode, parse
from strawberry.extensions import SchemaExtension

from resolvers.private_apis import graphql_schema, provided_operation_name, validate_document

__all__ = [
    "ANSWERS_BUDGET",
    "PARSED_BYTES_PER_CHAR",
    "PARSED_BYTES_PER_TOKEN",
    "VARIABLES_CACHED_BYTES",
    "BoundedCache",
    "DocumentCache",
    "DocumentCaches",
    "ParsedDocument",
    "TextValidationCache",
    "caches_of",
    "digest",
    "document_points",
    "plain_size",
    "variables_key",
]

V = TypeVar("V")

VARIABLES_CACHED_BYTES = 4096
"""Requests whose variables are larger than this are measured and planned afresh, not kept."""

ENTRY_BYTES = 400
"""What an entry costs beyond its value: the 32-byte digest and its slots in the LRU's
dicts (measured with tracemalloc: about 270 bytes per ``cachetools.LRUCache`` entry)."""

ERROR_BYTES = 6144
"""A validation error: the object, its attributes, locations and message (measured with
tracemalloc: 5.2 KB each for unknown fields with suggestions)."""

PARSED_BYTES_PER_CHAR = 2.2
PARSED_BYTES_PER_TOKEN = 620
"""A parsed document's bytes: ``2.2 × characters + 620 × tokens``. Measured with tracemalloc
on graphql-core's ``parse`` (locations on, as Strawberry parses): the tree copies the text
of names, strings and comments (1.1 bytes a character) and keeps the text itself through
its locations (1 more), and each token costs up to 605 bytes of token, node and location
objects. The bound is above every measured case: 95 KB of 50 long aliases (306 tokens)
310 KB, 95 KB of 4,810 plain fields 3.1 MB, a 95 KB string 199 KB, and the bench's
dashboards (300 to 1,200 characters, 34 to 154 tokens) 14 to 55 KB."""

PARSE_POINTS_PER_KB = 1
PARSE_POINTS_PER_100_TOKENS = 1
"""What parsing and validating a document the process has not kept costs in budget points:
one per KB of text (graphql-core's lexer reads it character by character: about 0.1 ms a
KB) plus one per 100 tokens (each becomes nodes to build and validate: 10 to 20 µs a token
here, more where fields overlap). A 95 KB document of 50 long aliases costs 97 to 100
points, a dashboard's document 2; a document kept from an earlier request costs nothing to parse."""


def _budget(mib: float) -> int:
    return int(mib * 2**20)


PARSED_BUDGET = _budget(16)
"""Parsed documents. A frontend's document parses to 15 to 60 KB, so this keeps several
hundred of them, more than a service's frontends send, and at most 16 MiB of strangers'."""
VALIDATED_BUDGET = _budget(2)
"""Validation results: an empty list for a valid document; the errors of an invalid one
hold its tokens, so those are counted at the document's parsed size."""
MEASURED_BUDGET = _budget(8)
"""Measures (``schema.limits.MEASURE_BYTES`` and the entry: 1,637 bytes): some 5,000 document,
operation and variables combinations. A request whose exact variables are not kept takes
the new-value path (coerced, bound, measured: about 0.2 ms); at 2 MiB (1,281 entries) the
detail, list and dashboard pages of 1,000 contact points each (bench/varied.py) evicted one
another (they held 3.9 MB), and every such request took it."""
STATEMENTS_BUDGET = _budget(8)
"""Compiled statements, one per document, viewer scope and variable shape: SQL of a few KB
each for a dashboard's query, so about a thousand."""
BOUND_BUDGET = _budget(4)
"""Values of requests bound to a kept statement, by their exact variables: a request sent
again is neither coerced nor bound again. About 700 bytes each with the entry (the bench's
varied Q1-Q3 held 1.66 MB), so some 6,000: more than the measures kept beside them."""
BINDERS_BUDGET = _budget(1)
"""What binds another request's values to a compiled statement: a few sites per document
and variable shape (``resolvers.bindings``)."""
ANSWERS_BUDGET = _budget(8)
"""Compiled answers of statistics (``db.answers``): a dashboard's a few KB, so a thousand or more."""
FALLBACKS_BUDGET = _budget(1)
"""Reasons why a document stays on the generic path: a sentence each."""
DECLARATIONS_BUDGET = _budget(1)
"""Variable types of saved documents (``/queries/{name}``): a small dict each."""


def _digest(parts: tuple[Any, ...]) -> bytes:
    """SHA-256 of ``parts``, each tagged with its type and length so that no two differ only
    in where one part ends (``("ab", "c")`` and ``("a", "bc")``, ``None`` and ``"None"``)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, str):
            data = part.encode("utf-8", "surrogatepass")  # JSON bodies may hold lone surrogates
        else:
            data = part if isinstance(part, bytes) else repr(part).encode()
        h.update(type(part).__name__.encode() + b":" + len(data).to_bytes(8, "little"))
        h.update(data)
    return h.digest()


def digest(*parts: Any) -> bytes:
    """The key ``parts`` are kept under: a request that looks up several caches by one long
    key (a document's text) hashes it once, then passes the digest as a part."""
    return _digest(parts)


_LEAVES = frozenset({str, bytes, int, float, bool, type(None)})


def plain_size(value: Any) -> int:
    """Bytes of plain data (str, bytes, numbers, and lists, tuples, dicts, dataclasses and
    graphql-core's AST nodes of them), counted object by object with ``sys.getsizeof``; shared objects count each time,
    other objects only their own size."""
    size = sys.getsizeof(value)
    if type(value) in _LEAVES:  # most of what is counted: no need to ask what else it is
        return size
    if isinstance(value, list | tuple | set | frozenset):
        size += sum(plain_size(item) for item in value)
    elif isinstance(value, dict):
        size += sum(plain_size(k) + plain_size(v) for k, v in value.items())
    elif isinstance(value, Node):
        size += sum(plain_size(getattr(value, key)) for key in value.keys)
    elif dataclasses.is_dataclass(value):
        slots = not hasattr(value, "__dict__")
        size += plain_size(
            {f.name: getattr(value, f.name) for f in dataclasses.fields(value)} if slots else vars(value)
        )
    return size


class BoundedCache(Generic[V]):
    """An LRU of values keyed by a digest of ``parts``, holding at most ``budget`` bytes of
    their estimated sizes (plus ``ENTRY_BYTES`` each); a value larger than the whole budget
    is not kept."""

    def __init__(self, budget: int) -> None:
        self._lru: cachetools.LRUCache[bytes, tuple[V, int]] = cachetools.LRUCache(
            budget, getsizeof=lambda entry: entry[1]
        )
        self.hits = 0
        self.misses = 0
        """Lookups that found a value, and that did not, since start (metrics)."""

    def get(self, *parts: Any) -> V | None:
        entry = self._lru.get(_digest(parts))
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        return entry[0]

    def put(self, value: V, size: int, *parts: Any) -> None:
        entry_size = size + ENTRY_BYTES
        if entry_size <= self._lru.maxsize:
            self._lru[_digest(parts)] = (value, entry_size)

    def __contains__(self, parts: tuple[Any, ...]) -> bool:
        return _digest(parts) in self._lru

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def budget(self) -> int:
        return int(self._lru.maxsize)

    @property
    def held(self) -> int:
        """Estimated bytes held now, at most ``budget``."""
        return int(self._lru.currsize)

    def digests(self) -> Iterator[bytes]:
        """The keys held: SHA-256 digests, never the text they stand for."""
        return iter(list(self._lru.keys()))


@dataclass
class ParsedDocument:
    document: DocumentNode
    size: int
    """Estimated bytes (``PARSED_BYTES_PER_CHAR``, ``PARSED_BYTES_PER_TOKEN``)."""
    points_due: int
    """Parse points not yet charged: charged with the first operation of this document that
    ``OperationLimits`` admits, then 0."""


@dataclass
class DocumentCaches:
    """Every cache of what documents parse, validate, measure and compile to, in one place:
    the app's engine's (``schema.engine``), which the extensions reach through the
    request's context."""

    parsed: BoundedCache[ParsedDocument] = field(default_factory=lambda: BoundedCache(PARSED_BUDGET))
    validated: BoundedCache[list[GraphQLError]] = field(default_factory=lambda: BoundedCache(VALIDATED_BUDGET))
    measured: BoundedCache[Any] = field(default_factory=lambda: BoundedCache(MEASURED_BUDGET))
    statements: BoundedCache[Any] = field(default_factory=lambda: BoundedCache(STATEMENTS_BUDGET))
    binders: BoundedCache[Any] = field(default_factory=lambda: BoundedCache(BINDERS_BUDGET))
    bound: BoundedCache[Any] = field(default_factory=lambda: BoundedCache(BOUND_BUDGET))
    fallbacks: BoundedCache[str] = field(default_factory=lambda: BoundedCache(FALLBACKS_BUDGET))
    declarations: BoundedCache[dict[str, Any]] = field(default_factory=lambda: BoundedCache(DECLARATIONS_BUDGET))

    def all(self) -> dict[str, BoundedCache[Any]]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def caches_of(execution_context: Any) -> DocumentCaches:
    """The caches of the app serving this operation (``Context.engine``)."""
    return execution_context.context.engine.caches


def variables_key(variables: dict[str, Any] | None) -> bytes | None:
    """A request's variables as a cache key, or None when they should not be one (too large,
    nested deeper than orjson goes, or holding a lone surrogate)."""
    try:
        key = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return None
    return key if len(key) <= VARIABLES_CACHED_BYTES else None


def document_points(chars: int, tokens: int) -> int:
    """Budget points for parsing and validating a document not kept (``PARSE_POINTS_PER_KB``)."""
    return PARSE_POINTS_PER_KB * math.ceil(chars / 1024) + PARSE_POINTS_PER_100_TOKENS * math.ceil(tokens / 100)


def parse_document(text: str, max_tokens: int | None) -> ParsedDocument:
    """Parse ``text`` as Strawberry does (raising graphql-core's syntax error), and unlink its
    tokens backwards.

    graphql-core links tokens both ways, so every parsed tree is a cycle. The service
    collects cycles rarely (``api.cli._tune_gc``), and a tree kept long enough to be old when
    evicted stayed in memory until a full collection: 150 KB a document here, for as long as
    distinct documents kept coming. Without ``prev`` (which nothing reads after parsing),
    an evicted tree is freed at once.
    """
    document = parse(text, max_tokens=max_tokens)
    tokens = _tokens(document, unlink=True)
    return ParsedDocument(document, _parsed_size(len(text), tokens), document_points(len(text), tokens))


def _tokens(document: DocumentNode, *, unlink: bool = False) -> int:
    """The tokens of a parsed document (comments included), following their chain."""
    count, token = 0, document.loc.start_token if document.loc is not None else None
    while token is not None:
        count += 1
        if unlink:
            token.prev = None
        token = token.next
    return count


def _parsed_size(chars: int, tokens: int) -> int:
    return math.ceil(PARSED_BYTES_PER_CHAR * chars + PARSED_BYTES_PER_TOKEN * tokens)


class DocumentCache(SchemaExtension):
    """Parsing kept across requests (``DocumentCaches.parsed``).

    A document that does not parse is left to Strawberry, which parses it again inside its
    own error handling (so the syntax error gets its code); failures are not kept.
    """

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        text = context.query
        max_tokens = context.parse_options.get("max_tokens")
        if text is not None:
            parsed = caches_of(context).parsed
            found = parsed.get(text, max_tokens)
            if found is None:
                try:
                    found = parse_document(text, max_tokens)
                except GraphQLError:
                    found = None
                else:
                    parsed.put(found, found.size, text, max_tokens)
            context.graphql_document = found.document if found is not None else None
        yield


class TextValidationCache(SchemaExtension):
    """Strawberry's ValidationCache, keyed by a digest of the document's text instead of its
    parsed tree.

    Strawberry's key is the ``DocumentNode``, which graphql-core hashes node by node on
    every lookup (8 % of a compiled request's CPU here); the text names the same tree,
    since parsing is kept by text too.
    """

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        validated = caches_of(execution).validated
        key = (id(execution.schema), execution.query, tuple(id(rule) for rule in execution.validation_rules))
        errors = validated.get(*key)
        if errors is None:
            document = execution.graphql_document
            assert document is not None  # validation follows a successful parse
            errors = validate_document(graphql_schema(execution.schema), document, execution.validation_rules)
            held = sys.getsizeof(errors) + ERROR_BYTES * len(errors)
            if errors and document is not None:  # their locations hold the document's tokens and text
                held += _parsed_size(len(execution.query or ""), _tokens(document))
            validated.put(errors, held, *key)
        if not errors and provided_operation_name(execution) is None:
            errors = _unnamed_among_several(execution.graphql_document)
        execution.pre_execution_errors = errors
        yield


def _unnamed_among_several(document: DocumentNode | None) -> list[GraphQLError]:
    """The spec's request error for a document of several operations and no operationName
    (GetOperation), which Strawberry would answer by running the first of them."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)] if document else []
    if len(operations) < 2:
        return []
    return [GraphQLError("Must provide operation name if query contains multiple operations.")]
