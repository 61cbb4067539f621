"""Tracing: the HTTP request, the GraphQL operation and each SQL statement as one span tree,
continuing the router's W3C trace, with no value a client sent."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from api.tracing import traces_exporter

from .support import JWT_ENV, bearer
from .writes_support import NAME, PHONE, PUDONG_POINT, document, intake

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
ROUTER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{ROUTER_SPAN}-01"
DASHBOARD = """query Dashboard($code: String!) {
  district(code: $code) { name contactPoints(first: 3) { nodes { code cases(first: 2) { nodes { number } } } } }
}"""


@contextmanager
def traced(dsn: str, execution: str) -> Iterator[tuple[TestClient, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    settings = Settings.from_env({"DATABASE_URL": dsn, "LIAISON_EXECUTION": execution, **JWT_ENV})
    with TestClient(create_app(settings, traces=provider)) as client:
        exporter.clear()  # start-up's statements
        yield client, exporter


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def descendants(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    found = children(spans, parent)
    return found + [d for child in found for d in descendants(spans, child)]


@pytest.mark.parametrize("execution", ["dataloader", "compiled"])
def test_the_span_tree_continues_the_routers_trace(demo_dsn: str, execution: str) -> None:
    served = []
    with traced(demo_dsn, execution) as (client, exporter):
        for _ in range(2):  # in compiled mode, the second is the fast lane's
            body = {"query": DASHBOARD, "variables": {"code": "310115"}, "operationName": "Dashboard"}
            response = client.post("/graphql", json=body, headers={"traceparent": TRACEPARENT, **bearer("internal")})
            assert response.status_code == 200
            assert "errors" not in response.json()
            spans = list(exporter.get_finished_spans())
            exporter.clear()
            assert {format(s.context.trace_id, "032x") for s in spans} == {TRACE_ID}
            (http,) = [s for s in spans if s.parent is not None and format(s.parent.span_id, "016x") == ROUTER_SPAN]
            assert http.kind is SpanKind.SERVER and http.parent is not None and http.parent.is_remote
            assert (http.attributes or {})["http.target"] == "/graphql"
            (operation,) = children(spans, http)
            assert operation.name == "GraphQL Query: Dashboard"
            attributes = operation.attributes or {}
            assert attributes["graphql.operation.name"] == "Dashboard"
            served.append(attributes["liaison.execution"])
            sql = [s for s in descendants(spans, operation) if s.kind is SpanKind.CLIENT]
            assert sql and all((s.attributes or {})["db.system"] == "postgresql" for s in sql)
            assert len(sql) == (1 if execution == "compiled" else 3)  # one per DataLoader batch
            # every span is in the tree under the router's
            assert {s.context.span_id for s in spans} == {http.context.span_id} | {
                s.context.span_id for s in descendants(spans, http)
            }
    assert served == (["compiled", "fast_lane"] if execution == "compiled" else ["dataloader", "dataloader"])


def test_no_span_holds_a_value_sent(db_dsn: str) -> None:
    with traced(db_dsn, "compiled") as (client, exporter):
        headers = {"traceparent": TRACEPARENT, **bearer("contact_point", contactPoints=[PUDONG_POINT])}
        body = {"query": document("caseOpen"), "variables": {"input": intake()}}
        opened = client.post("/graphql", json=body, headers=headers).json()
        assert opened["data"]["caseOpen"]["userErrors"] == [], opened
        client.get(
            "/graphql", params={"query": "query P($p: String) { regions { code } }", "variables": f'{{"p": "{PHONE}"}}'}
        )
        spans = exporter.get_finished_spans()
    names = [s.name for s in spans if s.kind is SpanKind.CLIENT]
    assert "BEGIN;" in names and "COMMIT;" in names  # the write's transaction, statement by statement
    text = repr([(s.name, dict(s.attributes or {}), [dict(e.attributes or {}) for e in s.events]) for s in spans])
    assert PHONE not in text and NAME not in text and PHONE[-4:] not in text


def test_tracing_is_off_unless_the_otel_variables_ask() -> None:
    assert traces_exporter({}) is None
    assert traces_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}) == "otlp"
    assert traces_exporter({"OTEL_TRACES_EXPORTER": "console"}) == "console"
    assert traces_exporter({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}) is None
    with pytest.raises(ValueError, match="OTEL_TRACES_EXPORTER"):
        traces_exporter({"OTEL_TRACES_EXPORTER": "jaeger"})
