"""Each HTTP request timed, counted in the metrics and written as one log line.

``RequestTelemetry`` wraps the app: it gives the request its ``RequestRecord`` (which the
layers below fill with names, codes and numbers) and, when the response has gone, observes
the metrics (``api.metrics``) and logs one line on the ``liaison.access`` logger with the
request id, trace id, operation, execution path, status, duration, cost and credential id.
The path is logged without its query string (``GET /graphql`` carries variables there);
the record holds no value from the request, so the line holds no personal data.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers.context import request_id
from resolvers.record import RequestRecord

from .logs import log_fields
from .metrics import Metrics

__all__ = ["RequestTelemetry", "Telemetry"]

log = logging.getLogger("liaison.access")

_TRACE_CONTEXT = TraceContextTextMapPropagator()
_NAME_LOGGED = 100
"""Characters of an operation's name logged: names are the client's to choose."""


@dataclass
class Telemetry:
    """The app's metrics and tracer (``app.state.telemetry``)."""

    metrics: Metrics
    tracer_provider: Any
    """The SDK's provider when tracing is on, else None."""
    tracer: trace.Tracer = field(init=False)
    """The operations' tracer (``Context.tracer``): a no-op one when tracing is off."""

    def __post_init__(self) -> None:
        provider = self.tracer_provider or trace.NoOpTracerProvider()
        self.tracer = trace.get_tracer("strawberry", tracer_provider=provider)


class RequestTelemetry:
    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app, self.telemetry = app, telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        connection = HTTPConnection(scope)
        record = connection.state.record = RequestRecord()
        status = 500  # unless a response starts: an exception escaped

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - started
            path = scope["path"]
            self.telemetry.metrics.observe(_endpoint(path), record, seconds)
            _log(connection, record, status, seconds, tracing=self.telemetry.tracer_provider is not None)


def _endpoint(path: str) -> str | None:
    """The GraphQL endpoint a path is, for the latency histogram; None for the others."""
    if path == "/graphql":
        return "graphql"
    if path.startswith("/queries/") and path != "/queries/openapi.json":
        return "queries"
    return None


def _log(connection: HTTPConnection, record: RequestRecord, status: int, seconds: float, *, tracing: bool) -> None:
    viewer = getattr(connection.state, "viewer", None)
    operation = record.saved_query or record.operation
    fields = {
        "request_id": request_id(connection),
        "trace_id": _trace_id(connection, tracing),
        "method": connection.scope["method"],
        "path": connection.scope["path"],
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "operation": operation[:_NAME_LOGGED] if operation else None,
        "operation_type": record.operation_type,
        "operations": record.operations,
        "execution": record.execution,
        "cost": record.cost,
        "credential": getattr(viewer, "credential", None),
        "role": viewer.role.value if viewer is not None else None,
        "errors": record.errors,
    }
    log_fields(log, f"{fields['method']} {fields['path']} {status}", fields)


def _trace_id(connection: HTTPConnection, tracing: bool) -> str | None:
    """The trace this request is part of: the current span's when tracing is on, else the
    caller's ``traceparent``, so that lines still join the router's trace."""
    context = trace.get_current_span().get_span_context() if tracing else trace.INVALID_SPAN_CONTEXT
    given = connection.headers.get("traceparent")
    if not context.is_valid and given:
        context = trace.get_current_span(_TRACE_CONTEXT.extract({"traceparent": given})).get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else None
