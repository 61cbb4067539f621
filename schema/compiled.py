"""Queries served by one SQL statement when the compiler knows them; counted either way.

Runs in ``on_execute`` after ``Limits`` (so depth, cost and budget were checked and
charged as for any operation): if the request may use the compiled path and the compiler
has a plan for it, the statement's JSON text becomes the result's ``data`` unparsed
(``orjson.Fragment``), and graphql-core's executor never runs. Anything else (mutations,
introspection, ``_entities``, a field without a mapping, a request the generic path would
answer with an error) runs on the generic path. Whether a request may use the compiled
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
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, NonNullTypeNode, parse
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from db.access import Viewer
from db.answers import VersionCheck, fetch_answer, render_versioned
from db.errors import DatabaseUnavailable, InvalidInput
from resolvers.compiler import NotCompiled
from resolvers.context import Context

from .caches import DocumentCaches, plain_size, variables_key
from .engine import QueryEngine

__all__ = [
    "HEADER",
    "CompiledExecution",
    "Statement",
    "compile_ahead",
    "fallback_reason",
    "fault_error",
    "plain_data",
    "statement_for",
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
                context.db, context.engine.answers, statement.sql, statement.values, statement.check
            )
        except DatabaseUnavailable as fault:
            return fault
        except InvalidInput:
            return None  # a value the database refuses (a NUL): the generic path words the error
        except Exception:  # a plan the database refuses is our bug: the generic path still answers
            log.exception("compiled statement failed (request %s); served on the generic path", context.request_id)
            return None

    def _statement(self, engine: QueryEngine, context: Context) -> Statement | None:
        """This request's SQL and parameters, rendered once per document, viewer and variables."""
        execution = self.execution_context
        caches, compiler = engine.caches, engine.compiler
        viewer = context.viewer
        key = (execution.query or "", execution.operation_name, viewer.role.value)
        if key in caches.fallbacks:  # documents the compiler cannot serve: asked once
            return None
        variables = variables_key(execution.variables)
        max_page = context.limits.max_page_size
        statement = statement_for(caches, *key[:2], viewer, variables, max_page) if variables is not None else None
        if statement is not None:
            return statement
        operation = get_operation_ast(execution.graphql_document, execution.operation_name)  # type: ignore[arg-type]
        if operation is None:
            return None
        coerced = get_variable_values(compiler.schema, operation.variable_definitions or (), execution.variables or {})
        if isinstance(coerced, list):
            return None  # the generic path words the variables' errors
        try:
            root = compiler.plan(execution.graphql_document, operation, coerced, viewer, context.limits.max_page_size)
        except NotCompiled as reason:
            if reason.static:
                _remember(caches, key, reason.reason)
            else:
                log.debug("request %s on the generic path: %s", context.request_id, reason.reason)
            return None
        return _rendered(caches, root, viewer, key[0], key[1], variables, max_page)


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
        root = compiler.plan(document, operation, coerced, viewer, max_page)
    except NotCompiled as reason:
        if reason.static:
            _remember(caches, (query, operation_name, viewer.role.value), reason.reason)
        return f"runs on the generic path: {reason.reason}"
    _rendered(caches, root, viewer, query, operation_name, variables_key({}), max_page)
    return "compiled ahead"


def _statement_key(
    query: str, operation_name: str | None, viewer: Viewer, variables: bytes | None, max_page: int
) -> tuple[Any, ...]:
    """Everything a rendered statement depends on: its parameters carry the viewer's scope
    (regions, districts, contact points), so two viewers of one role share it only when
    their scopes are the same."""
    scope = (viewer.region_codes, viewer.district_codes, viewer.contact_point_codes)
    return (query, operation_name, viewer.role.value, *scope, variables, max_page)


def _rendered(
    caches: DocumentCaches,
    root: Any,
    viewer: Viewer,
    query: str,
    operation_name: str | None,
    variables: bytes | None,
    max_page: int,
) -> Statement:
    """Render ``root`` and keep it for the next request of the same key (unless its variables are not one)."""
    sql, values, check = render_versioned(root, viewer)
    statement = Statement(sql, values, root.selection[0].key if root.selection else None, check)
    if variables is not None:
        key = _statement_key(query, operation_name, viewer, variables, max_page)
        caches.statements.put(statement, plain_size(statement), *key)
    return statement


def statement_for(
    caches: DocumentCaches, query: str, operation_name: str | None, viewer: Any, variables: bytes, max_page: int
) -> Statement | None:
    """The statement an earlier request of this document, viewer and variables was served by, if kept."""
    return caches.statements.get(*_statement_key(query, operation_name, viewer, variables, max_page))


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
