"""Queries served by one SQL statement when the compiler knows them; counted either way.

Runs in ``on_execute`` after ``OperationLimits`` (so depth, cost and budget were checked and
charged as for any operation): if the request may use the compiled path and the compiler
has a plan for it, the statement's JSON text becomes the result's ``data`` unparsed
(``orjson.Fragment``), and graphql-core's executor never runs. A statement is planned and
rendered once per document, viewer scope and variable shape (``statement_for``): a request
of a known shape binds its own values, validated, to the same SQL text (``_entities``' representations
too: one statement per set of entity types asked). Anything else (mutations, introspection, a
field without a mapping, a request the generic path would answer with an error, such as a
malformed representation) runs on the generic path. Whether a request may use the compiled
path is the engine's decision (``schema.engine``, ``Context.execution``). Each response
says which path served it in ``X-Liaison-Execution`` and in its record (``Context.record``:
the metrics and the log line); the engine counts them (``QueryEngine.served``); the first fallback of
each document and role is logged with its reason. In verify mode a statistic whose summaries
differ from the raw rows (``resolvers.stats``) marks its operation ``mismatch`` as well.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import orjson
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    NonNullTypeNode,
    OperationDefinitionNode,
    get_nullable_type,
    parse,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.execution.values import VariableValues, get_variable_values
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from db.access import Viewer
from db.answers import VersionCheck, fetch_answer, render_versioned
from db.errors import DatabaseUnavailable, InvalidInput
from db.plan import Slot
from db.sql import shared_form
from resolvers.compiler import Compiler, NotCompiled
from resolvers.context import Context

from .caches import DocumentCaches, digest, plain_size, variables_key
from .engine import QueryEngine

__all__ = [
    "HEADER",
    "CompiledExecution",
    "Statement",
    "compile_ahead",
    "fallback_reason",
    "fault_error",
    "known_statement",
    "plain_data",
    "statement_for",
    "variable_shape",
]

log = logging.getLogger(__name__)

HEADER = "X-Liaison-Execution"


class Statement(NamedTuple):
    sql: str
    values: list[Any]
    first_key: str | None
    """The operation's first response key: where a database fault is reported, as the generic path does."""
    check: VersionCheck | None = None
    """When its answer may be kept (``db.answers``): the statement reading the versions it depends on."""
    shared: str | None = None
    """The statement run once for several requests at a time (``db.sql.shared_form``)."""


class Rendered(NamedTuple):
    """A statement rendered once for a shape: its parameters, with ``Slot``s where each
    request's values go (``slots``: parameter position, value index)."""

    sql: str
    template: tuple[Any, ...]
    slots: tuple[tuple[int, int], ...]
    first_key: str | None
    check: VersionCheck | None
    """``db.answers``: its parameters are the shape's (a period's bounds are structure), never a value's."""
    shared: str | None
    """``db.sql.shared_form`` of a statement whose answers are not kept."""

    def bound(self, values: tuple[Any, ...]) -> Statement:
        params = list(self.template)
        for position, index in self.slots:
            params[position] = values[index]
        return Statement(self.sql, params, self.first_key, self.check, self.shared)


class CompiledExecution(SchemaExtension):
    first_key: str | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context: Context = execution.context
        text: str | None = None
        if execution.result is None and execution.graphql_document is not None and isinstance(context, Context):
            context.record.started(execution.operation_name, execution.operation_type.value)
            compiled = await self._compiled(context)
            if isinstance(compiled, DatabaseUnavailable):
                # Not again on the generic path: it would wait for the same fault as long again.
                path = [self.first_key] if self.first_key else []
                execution.result = GraphQLExecutionResult(data=None, errors=[fault_error(compiled, path)])
            else:
                text = compiled
            served = "compiled" if text is not None and context.execution == "compiled" else "dataloader"
            if served == "compiled":
                execution.result = GraphQLExecutionResult(data=orjson.Fragment(text))  # type: ignore[arg-type]
            if not (text is not None and context.execution == "verify"):  # else counted as verified or not
                context.engine.served[served] += 1
            _tell(context, served)
        yield
        summaries_differ = isinstance(context, Context) and bool(context.summary_mismatches)
        if text is not None and context.execution == "verify":
            self._verify(context, text, summaries_differ)
        elif summaries_differ:  # statistics read from summaries, on the generic path alone
            context.engine.served["mismatch"] += 1
            _tell(context, "mismatch")

    def _verify(self, context: Context, text: str, summaries_differ: bool) -> None:
        """Count and tell whether the compiled answer is the generic path's (one of the two per
        operation: a statistic whose summaries differ from the raw rows is a mismatch too)."""
        result = self.execution_context.result
        generic = orjson.dumps(result.data) if result is not None and not result.errors else None
        same = generic == text.encode()
        if same and not summaries_differ:
            context.engine.served["verified"] += 1
            _tell(context, "verified")
            return
        context.engine.served["mismatch"] += 1
        _tell(context, "mismatch")
        if not same:
            log.error(
                "request %s: the compiled path's data differs from the generic path's\ncompiled: %s\ngeneric:  %s",
                context.request_id,
                text[:2000],
                (generic or b"(errors)")[:2000].decode(errors="replace"),
            )

    async def _compiled(self, context: Context) -> str | DatabaseUnavailable | None:
        """The operation's data as JSON text from one statement, or None: the generic path serves it."""
        if context.execution == "dataloader":
            return None
        statement = self._statement(context.engine, context)
        if statement is None:
            return None
        self.first_key = statement.first_key
        try:
            return await fetch_answer(
                context.db, context.engine.answers, statement.sql, statement.values, statement.check, statement.shared
            )
        except DatabaseUnavailable as fault:
            return fault
        except InvalidInput:
            return None  # a value the database refuses (a NUL): the generic path words the error
        except Exception:  # a plan the database refuses is our bug: the generic path still answers
            log.exception("compiled statement failed (request %s); served on the generic path", context.request_id)
            return None

    def _statement(self, engine: QueryEngine, context: Context) -> Statement | None:
        """This request's SQL and parameters: rendered once per document, viewer scope and
        variable shape, bound to this request's values."""
        execution = self.execution_context
        caches, compiler = engine.caches, engine.compiler
        viewer = context.viewer
        key = (execution.query or "", execution.operation_name, viewer.role.value)
        if key in caches.fallbacks or execution.graphql_document is None:  # the compiler cannot serve it: asked once
            return None
        max_page = context.limits.max_page_size
        known = known_statement(caches, key[0], key[1], viewer, execution.variables, max_page)
        if known is not None:
            return known
        operation = get_operation_ast(execution.graphql_document, execution.operation_name)
        if operation is None:
            return None
        coerced = get_variable_values(compiler.schema, operation.variable_definitions or (), execution.variables or {})
        if isinstance(coerced, list):
            return None  # the generic path words the variables' errors
        request = (key[0], key[1], execution.graphql_document, operation, coerced)
        try:
            return statement_for(caches, compiler, *request, viewer, max_page, execution.variables)
        except NotCompiled as reason:
            if reason.static:
                _remember(caches, key, reason.reason)
            else:
                log.debug("request %s on the generic path: %s", context.request_id, reason.reason)
            return None


def compile_ahead(engine: QueryEngine, query: str, operation_name: str | None, viewer: Viewer, max_page: int) -> str:
    """Plan and render a stored document before its first request, for ``viewer``'s role and
    scope, when it needs no variable values; say what became of it (for the start-up log)."""
    caches, compiler = engine.caches, engine.compiler
    document = parse(query)
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation.value != "query":
        return "runs on the generic path: not a query"
    required = [d for d in operation.variable_definitions or () if isinstance(d.type, NonNullTypeNode)]
    if any(d.default_value is None for d in required):
        return "compiles on its first request: it takes variables"
    coerced = get_variable_values(compiler.schema, operation.variable_definitions or (), {})
    if isinstance(coerced, list):
        return "compiles on its first request: it takes variables"
    try:
        statement_for(caches, compiler, query, operation_name, document, operation, coerced, viewer, max_page)
    except NotCompiled as reason:
        if reason.static:
            _remember(caches, (query, operation_name, viewer.role.value), reason.reason)
        return f"runs on the generic path: {reason.reason}"
    return "compiled ahead"


SITE_BYTES = 1024
"""What a kept binder holds per site beyond its argument nodes and the schema's shared
objects (measured with tracemalloc, nodes included: 840 bytes a site for Q3, 955 for the
tests' SHAPES query)."""


def statement_for(
    caches: DocumentCaches,
    compiler: Compiler | None,
    query: str,
    operation_name: str | None,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: VariableValues,
    viewer: Viewer,
    max_page: int,
    exact: dict[str, Any] | None = None,
) -> Statement | None:
    """The statement of this request: an earlier request's of the same variable shape, bound
    to this one's values; else (given the ``compiler``) planned, rendered and kept for the next;
    else None. NotCompiled when the compiler cannot serve it, or refuses one of its values.
    With ``exact``, the request's variables as sent, its values are kept for ``known_statement``.

    Kept by everything a rendered statement depends on: the document and operation, the
    viewer's role and scope (its parameters carry the regions, districts and contact points),
    the page size limit and the variables' shape; then by the structure its values give
    (``resolvers.bindings``: a filter's predicates, the order, a period's bounds)."""
    request = _request_key(query, operation_name, viewer, max_page)
    shape = digest(*request, variable_shape(variables))
    binder = caches.binders.get(shape)
    rendered = None
    if binder is not None:
        structure, values = binder.bind(variables, viewer, max_page)
        key = digest(shape, structure)
        rendered = caches.statements.get(key)
    if rendered is None:
        if compiler is None:
            return None
        shaped = compiler.shape(document, operation, variables, viewer, max_page)
        sql, template, check = render_versioned(shaped.root, viewer)
        slots = tuple((position, value.index) for position, value in enumerate(template) if isinstance(value, Slot))
        first_key = shaped.root.selection[0].key if shaped.root.selection else None
        shared = shared_form(sql) if check is None else None
        rendered = Rendered(sql, tuple(template), slots, first_key, check, shared)
        key, values = digest(shape, shaped.structure), shaped.values
        caches.statements.put(rendered, plain_size(rendered), key)
        if binder is None:
            size = sum(SITE_BYTES + plain_size(site.node) for site in shaped.binder.sites)
            caches.binders.put(shaped.binder, size, shape)
    raw = variables_key(exact) if exact is not None else None
    if raw is not None:
        caches.bound.put((key, values), plain_size(values) + BOUND_BYTES, *request, raw)
    return rendered.bound(values)


BOUND_BYTES = 200
"""A kept binding beyond its values: the tuple and the statement's 32-byte key."""


def known_statement(
    caches: DocumentCaches, query: str, operation_name: str | None, viewer: Viewer, exact: Any, max_page: int
) -> Statement | None:
    """The statement of a request whose variables, as sent, an earlier request of the same
    document and viewer scope had: its values were validated and bound then, so they are
    neither coerced nor bound again (the cost of a repeated request stays what it was when
    statements were kept per exact variables)."""
    raw = variables_key(exact) if isinstance(exact, dict | None) else None
    found = caches.bound.get(*_request_key(query, operation_name, viewer, max_page), raw) if raw is not None else None
    rendered = caches.statements.get(found[0]) if found is not None else None
    return rendered.bound(found[1]) if rendered is not None and found is not None else None


def _request_key(query: str, operation_name: str | None, viewer: Viewer, max_page: int) -> tuple[Any, ...]:
    scope = (viewer.region_codes, viewer.district_codes, viewer.contact_point_codes)
    return (query, operation_name, viewer.role.value, *scope, max_page)


_ABSENT = "absent"
_VALUE = "$"
_BY_VALUE = frozenset({"Boolean", "ID"})


def variable_shape(variables: VariableValues) -> tuple[Any, ...]:
    """What of a request's variables decides which fields a compiled plan walks: which
    variables are absent or null (and fields of input objects), Booleans (``@skip``,
    ``@include``) and IDs (a global id's type picks its table), with the lengths of lists
    holding them. Every other value is a parameter; what else the SQL text depends on is
    found by the plan's sites (``resolvers.bindings``) from the values themselves."""
    coerced = variables.coerced
    return tuple(
        (name, _shape(source.signature.type, coerced[name]) if name in coerced else _ABSENT)
        for name, source in variables.sources.items()
    )


def _shape(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    kind = get_nullable_type(kind)
    if isinstance(kind, GraphQLList):
        items = tuple(_shape(kind.of_type, item) for item in value)
        return items if any(item != _VALUE for item in items) else _VALUE
    if isinstance(kind, GraphQLInputObjectType):
        return tuple((name, _shape(kind.fields[name].type, item)) for name, item in sorted(value.items()))
    return repr(value) if getattr(kind, "name", None) in _BY_VALUE else _VALUE


def fault_error(fault: DatabaseUnavailable, path: list[str]) -> GraphQLError:
    """A database fault at the first root field, as the generic path reports it."""
    return GraphQLError(str(fault), path=path or None, original_error=fault, extensions={"code": fault.code})


def _tell(context: Context, served: str) -> None:
    context.record.execution = served
    if context.response is not None:
        context.response.headers[HEADER] = served


def _remember(caches: DocumentCaches, key: tuple[str, str | None, str], reason: str) -> None:
    caches.fallbacks.put(reason, plain_size(reason), *key)
    log.info("operation %s for the %s role runs on the generic path: %s", key[1] or "(anonymous)", key[2], reason)


def fallback_reason(caches: DocumentCaches, query: str, operation_name: str | None, role: str) -> str | None:
    """Why a document stays on the generic path for ``role``, once a request of it was seen."""
    return caches.fallbacks.get(query, operation_name, role)


def plain_data(data: Any) -> Any:
    """``data`` as Python values, for callers that read it (CSV exports) rather than send it."""
    return orjson.loads(orjson.dumps(data)) if isinstance(data, orjson.Fragment) else data
