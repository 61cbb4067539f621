"""Prometheus metrics in a registry the app owns, and ``/metrics`` behind a secret.

Every app has its own ``CollectorRegistry`` (never the client library's global one), so
two apps in one process (the tests) count apart. Histograms and counters are updated per
request by ``api.telemetry``; figures kept elsewhere (the pool, statements, caches, budget
refusals) are read when Prometheus scrapes.

``/metrics`` answers only ``Authorization: Bearer <LIAISON_METRICS_SECRET>``, as Hasura
guards its metrics with a secret; without the setting it answers 404. Prometheus sends the
secret from its scrape config (``authorization: {credentials: ...}``).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from resolvers.record import RequestRecord

from .admission import Refused, refusal

__all__ = ["LATENCY_BUCKETS", "Metrics", "serve_metrics"]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds: a compiled dashboard query answers in a few milliseconds, a request's bound is 30 s."""

OTHER = "other"
"""The label of an operation whose name is not a saved query's: clients choose names freely,
and each distinct label value is a time series Prometheus keeps."""


class Metrics:
    """The app's registry and its metrics."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
            self.registry.register(collector)
        self.request_seconds = Histogram(
            "liaison_graphql_request_duration_seconds",
            "GraphQL requests (/graphql and /queries/{name}) from arrival to the last byte, by "
            "endpoint, operation (a saved query's name; others: other, anonymous, batch) and "
            "execution path (compiled, fast_lane, dataloader, verified, mismatch; none: nothing ran).",
            ["endpoint", "operation", "execution"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "liaison_graphql_errors",
            "Errors answered, at the HTTP level or in a GraphQL response, by extensions.code.",
            ["code"],
            registry=self.registry,
        )
        self._latencies: dict[tuple[str, str, str], Any] = {}
        """``request_seconds``' child per label values, looked up once, as Prometheus's client
        guidelines advise for a hot path (``labels()`` checks its arguments and takes a lock on
        every call). As bounded as the label values."""
        self.saved_names: set[str] = set()
        """Names of saved queries, the operation label's values besides ``OTHER``: bounded by
        what admins save, not by what clients send."""

    def read_from(self, state: Any) -> None:
        """Report the figures the app's objects keep (``state``: the app's)."""
        self.registry.register(_StateCollector(state))

    def operation_label(self, record: RequestRecord) -> str:
        if record.saved_query is not None:
            return record.saved_query
        if record.operations > 1:
            return "batch"
        if record.operations == 1 and record.operation is None:
            return "anonymous"
        return record.operation if record.operation in self.saved_names else OTHER

    def observe(self, endpoint: str | None, record: RequestRecord, seconds: float) -> None:
        """Count a finished request."""
        for code in record.errors:
            self.errors.labels(code).inc()
        if endpoint is not None:
            labels = (endpoint, self.operation_label(record), record.execution or "none")
            latency = self._latencies.get(labels)
            if latency is None:
                latency = self._latencies[labels] = self.request_seconds.labels(*labels)
            latency.observe(seconds)


class _StateCollector(Collector):
    """Figures the app's objects keep, read at scrape time."""

    def __init__(self, state: Any) -> None:
        self.state = state

    def describe(self) -> list[Metric]:
        return []  # read from live objects, which exist only once the app has started

    def collect(self) -> Iterator[Metric]:
        db = getattr(self.state, "db", None)
        if db is not None:
            yield CounterMetricFamily("liaison_statements", "SQL statements sent to PostgreSQL.", value=db.statements)
            yield GaugeMetricFamily("liaison_pool_size", "Connections the pool may hold.", value=db.size)
            yield GaugeMetricFamily("liaison_pool_in_use", "Pool connections in use now.", value=db.in_use)
            yield GaugeMetricFamily(
                "liaison_pool_waiting",
                "Callers waiting for a pool connection now; a group sharing one counts once.",
                value=db.waiting,
            )
        events = getattr(self.state, "events", None)
        if events is not None:
            yield GaugeMetricFamily(
                "liaison_subscriptions_open", "GraphQL subscriptions open now.", value=events.subscriber_count
            )
        budget = getattr(self.state, "budget", None)
        if budget is not None:
            yield CounterMetricFamily(
                "liaison_budget_refusals",
                "Operations refused because their caller's rate-limit budget was spent (RATE_LIMITED).",
                value=getattr(budget, "refusals", 0),
            )
        hits = CounterMetricFamily("liaison_cache_hits", "Lookups that found a kept value, by cache.", labels=["cache"])
        misses = CounterMetricFamily("liaison_cache_misses", "Lookups that found nothing, by cache.", labels=["cache"])
        held = GaugeMetricFamily("liaison_cache_bytes", "Estimated bytes held, by cache.", labels=["cache"])
        engine = getattr(self.state, "engine", None)
        for name, cache in (engine.caches.all() if engine is not None else {}).items():
            hits.add_metric([name], cache.hits)
            misses.add_metric([name], cache.misses)
            held.add_metric([name], cache.held)
        yield from (hits, misses, held)
        if engine is not None:
            answers = CounterMetricFamily(
                "liaison_kept_answers",
                "Compiled answers over versioned data (db.answers), by outcome: served as kept after their"
                " versions matched (kept), kept with other versions and run again (stale), run and kept (new).",
                labels=["outcome"],
            )
            for outcome in ("kept", "stale", "new"):
                answers.add_metric([outcome], engine.answers.served[outcome])
            yield answers


async def serve_metrics(request: Request) -> Response:
    """The registry in Prometheus's text format, for a caller holding the metrics secret."""
    secret = request.app.state.settings.metrics_secret
    if secret is None:
        message = "Metrics are off; set LIAISON_METRICS_SECRET to serve them."
        return refusal(request, Refused(404, "NOT_FOUND", message))
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), secret.encode()):
        message = "Send the metrics secret as `Authorization: Bearer <LIAISON_METRICS_SECRET>`."
        return refusal(request, Refused(401, "UNAUTHENTICATED", message, {"WWW-Authenticate": "Bearer"}))
    return Response(generate_latest(request.app.state.telemetry.metrics.registry), media_type=CONTENT_TYPE_LATEST)
