"""Tracing: the operation's OpenTelemetry span, and federated tracing (ftv1) for the router only."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from graphql import GraphQLResolveInfo
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Tracer
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension
from strawberry.extensions.tracing.apollo_federation import ApolloFederationTracingExtension

__all__ = ["OperationTracing", "RouterTracing", "operation_span"]

_NO_TRACER = trace.NoOpTracer()


def operation_span(tracer: Tracer | None, operation_name: str | None) -> AbstractContextManager[Span]:
    """The GraphQL operation's span, named as Strawberry names it, and current while it runs,
    so that the SQL statements' spans (the asyncpg instrumentation) are its children.

    With tracing off, the invalid span and nothing made current: what a no-op tracer's span
    amounts to, without its context switch (about 2 % of a known query's CPU, profiled)."""
    if tracer is None or isinstance(tracer, trace.NoOpTracer):
        return contextlib.nullcontext(trace.INVALID_SPAN)
    name = f"GraphQL Query: {operation_name}" if operation_name else "GraphQL Query"
    attributes = {"component": "graphql"}
    if operation_name:
        attributes["graphql.operation.name"] = operation_name
    return (tracer or _NO_TRACER).start_as_current_span(name, kind=SpanKind.SERVER, attributes=attributes)


class OperationTracing(OpenTelemetryExtension):
    """Strawberry's OpenTelemetry extension (the operation, parsing and validation spans),
    with the app's tracer (``Context.tracer``, a no-op one when tracing is off), the
    operation's span current while it runs, and nothing a client sent in a value:

    - no span per field: the DataLoader path resolves thousands of fields in a few batched
      statements, whose spans say where the time went; the compiled path has no resolvers;
    - no arguments as attributes (a case's input holds the consumer's name and phone), and
      the document's text only for a query (a mutation's literals may hold the same).
    """

    def __init__(self, *, execution_context: Any = None) -> None:
        super().__init__(execution_context=execution_context, arg_filter=lambda args, info: {})

    def on_operation(self) -> Iterator[None]:  # type: ignore[override]
        execution = self.execution_context
        self._tracer = getattr(execution.context, "tracer", None) or _NO_TRACER
        with operation_span(self._tracer, execution.operation_name) as span:
            self._span_holder[LifecycleStep.OPERATION] = span
            yield
            if not span.is_recording() or execution.graphql_document is None:
                return
            name, kind = execution.operation_name, execution.operation_type.value
            if name:
                span.update_name(f"GraphQL Query: {name}")
                span.set_attribute("graphql.operation.name", name)
            span.set_attribute("graphql.operation.type", kind)
            if kind == "query" and execution.query:
                span.set_attribute("graphql.document", execution.query)
            record = getattr(execution.context, "record", None)
            if record is not None and record.execution:
                span.set_attribute("liaison.execution", record.execution)

    def resolve(self, _next: Callable[..., Any], root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any) -> Any:
        return _next(root, info, *args, **kwargs)


class RouterTracing(ApolloFederationTracingExtension):
    """Strawberry's ftv1 extension, answering only the federation router (when a router
    secret is configured, requests carrying it), putting a masked message in place of an
    unexpected exception's text, which the trace would otherwise carry to the client, and
    costing nothing per field when no trace is asked for."""

    def _check_should_trace(self) -> bool:
        context = self.execution_context.context
        return bool(getattr(context, "from_router", False)) and super()._check_should_trace()

    def resolve(self, _next: Callable[..., Any], root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any) -> Any:
        # Strawberry's hook is a coroutine function: without a trace it still turned every
        # field into a coroutine, which costs time and, when the request is cut short,
        # leaves "never awaited" coroutines behind. Untraced, the resolver is called as is.
        if not self._should_trace:
            return _next(root, info, *args, **kwargs)
        return super().resolve(_next, root, info, *args, **kwargs)

    def _make_error(self, e: Exception, info: GraphQLResolveInfo) -> Any:
        if not isinstance(getattr(e, "code", None), str):
            e = Exception("Internal server error.")
        return super()._make_error(e, info)
