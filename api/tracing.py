"""OpenTelemetry tracing, off unless the standard ``OTEL_*`` variables ask for it.

When on, each HTTP request has a span (the ASGI instrumentation, continuing a W3C
``traceparent`` sent by the router), each GraphQL operation a child span
(``schema.tracing.OperationTracing``) and each SQL statement a grandchild (the asyncpg
instrumentation). The tracer provider is the app's (``Telemetry``); the SDK reads the rest
of the standard variables itself: ``OTEL_EXPORTER_OTLP_ENDPOINT``, ``..._HEADERS``,
``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER``.

No span carries a value a client sent: not the query string (the URL attributes are cut
at ``?``), not statement parameters (the asyncpg instrumentation leaves them out), not
GraphQL arguments.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.trace import Span
from starlette.middleware import Middleware

__all__ = ["EXPORTERS", "http_spans", "sql_spans", "tracer_provider", "traces_exporter"]

EXPORTERS = ("otlp", "console")

_UNTRACED = "healthz,readyz,metrics"


def traces_exporter(env: Mapping[str, str] = os.environ) -> str | None:
    """Where spans go, from ``OTEL_TRACES_EXPORTER``; None (tracing off) unless it is set,
    or an OTLP endpoint is; ``OTEL_SDK_DISABLED=true`` turns it off whatever else is set."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    value = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if not value:
        endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        return "otlp" if endpoint else None
    if value == "none":
        return None
    if value not in EXPORTERS:
        raise ValueError(f"OTEL_TRACES_EXPORTER: {value!r} is not otlp, console or none")
    return value


def tracer_provider(exporter: str) -> TracerProvider:
    """A provider sending spans in batches to ``exporter`` (``EXPORTERS``)."""
    provider = TracerProvider(resource=Resource.create({"service.name": "liaison-graph"}))
    span_exporter: SpanExporter
    if exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        span_exporter = OTLPSpanExporter()
    else:
        span_exporter = ConsoleSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    return provider


def http_spans(provider: Any) -> Middleware:
    """The ASGI instrumentation as the app's outermost middleware: one span per request."""
    return Middleware(
        OpenTelemetryMiddleware,
        tracer_provider=provider,
        excluded_urls=_UNTRACED,
        exclude_spans=["receive", "send"],
        server_request_hook=_without_query,
    )


def _without_query(span: Span, scope: dict[str, Any]) -> None:
    """Cut the query string from the URL attributes: ``GET /graphql`` and ``/queries/{name}``
    carry variables there."""
    attributes = getattr(span, "attributes", None)
    if not span.is_recording() or not attributes:
        return
    for key in ("http.url", "http.target", "url.full"):
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0])
    if attributes.get("url.query"):
        span.set_attribute("url.query", "")


@contextlib.contextmanager
def sql_spans(provider: Any) -> Iterator[None]:
    """The asyncpg instrumentation while the app runs, when it traces. It patches asyncpg's
    classes, so it is process-wide: while one app traces, every statement is its span."""
    instrumentor = AsyncPGInstrumentor(capture_parameters=False)
    if provider is None or instrumentor.is_instrumented_by_opentelemetry:
        yield
        return
    instrumentor.instrument(tracer_provider=provider)
    try:
        yield
    finally:
        instrumentor.uninstrument()
