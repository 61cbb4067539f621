"""The Starlette application: GraphQL at /graphql, health at /healthz and /readyz, metrics, CORS if configured."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp

from db import saved
from db.access import Role, Viewer
from db.errors import DatabaseUnavailable
from db.pool import Database, open_database, pool_size_for
from resolvers.case_events import EventHub
from resolvers.documents import broken_documents
from resolvers.private_apis import graphql_schema
from schema import schema
from schema.compiled import compile_ahead
from schema.engine import QueryEngine

from .auth import Authenticator
from .budget import open_budget
from .cors import cors_middleware
from .documents import Documents
from .graphql import GraphQLApp
from .housekeeping import purge_keys_forever
from .ide import graphiql_assets
from .imports import post_import
from .metrics import Metrics, serve_metrics
from .openapi import serve_openapi
from .request_ids import RequestIds
from .saved_queries import run_saved_query
from .settings import Settings
from .startup import prepare_database
from .telemetry import RequestTelemetry, Telemetry
from .tracing import http_spans, sql_spans, tracer_provider

__all__ = ["create_app"]

log = logging.getLogger(__name__)


async def healthz(request: Request) -> JSONResponse:
    """The process is alive; says nothing of the database."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the database answered within the configured bound."""
    try:
        await request.app.state.db.ping()
    except DatabaseUnavailable as exc:
        return JSONResponse({"status": "unavailable", "code": exc.code}, status_code=503)
    return JSONResponse({"status": "ok"})


async def _prepare_saved_queries(db: Database, engine: QueryEngine, max_page: int, metrics: Metrics) -> None:
    """A schema change must not break a tool silently: say at start-up which saved queries it
    broke. Compile the others ahead for internal tools (those that need no variable values).
    Their names are the operation labels of the metrics."""
    try:
        active = await saved.active_operations(db)
    except DatabaseUnavailable:
        return  # the service starts while the database is away; `liaison queries check` reports later
    metrics.saved_names.update(o.name for o in active)
    broken = broken_documents([(o.label, o.document) for o in active], graphql_schema(schema))
    for label, errors in broken:
        log.warning("saved query %s no longer validates against the schema: %s", label, "; ".join(errors))
    if active:
        log.info("%d of %d saved query versions validate", len(active) - len(broken), len(active))
    failed = {label for label, _ in broken}
    internal = Viewer(Role.INTERNAL)
    for operation in active:
        if operation.label not in failed:
            outcome = compile_ahead(engine, operation.document, operation.operation_name, internal, max_page)
            log.info("saved query %s: %s", operation.label, outcome)


class _Service(Starlette):
    """Starlette with ``RequestIds`` outside all its middleware, its error middleware too:
    a 500 carries the id its log line names."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestIds(super().build_middleware_stack())


def _lifespan(settings: Settings, dsn: str, traces: Any) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    """What the service opens at start-up and closes at shutdown: the database (migrated, the
    demo loaded when asked), saved queries compiled ahead, the budget, the event hub, the key
    purge, and the tracer's last spans."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await prepare_database(dsn, demo=settings.load_demo)
        limits = settings.limits
        app.state.db = await open_database(
            dsn,
            max_size=settings.pool_size or pool_size_for(dsn, settings.workers),
            timeout=settings.db_timeout,
            statement_timeout=limits.request_timeout,
        )
        app.state.documents = Documents(settings.trusted_documents_only)
        await _prepare_saved_queries(app.state.db, app.state.engine, limits.max_page_size, app.state.telemetry.metrics)
        app.state.budget = open_budget(settings.redis_url, limits.budget_points, limits.budget_window)
        app.state.events = EventHub(
            # A subscriber's credential, checked again as at ``connection_init``.
            app.state.db,
            dsn,
            limits,
            functools.partial(app.state.authenticator.viewer, db=app.state.db),
        )
        purging = asyncio.create_task(purge_keys_forever(app.state.db, limits.key_purge_interval))
        try:
            with sql_spans(traces):
                yield
        finally:
            purging.cancel()
            await asyncio.gather(purging, return_exceptions=True)  # it ends only by this
            await app.state.events.close()
            await app.state.db.close()
            close = getattr(app.state.budget, "close", None)
            if close is not None:
                await close()
            if traces is not None:
                traces.shutdown()  # sends the spans still batched

    return lifespan


def create_app(settings: Settings, *, traces: Any = None) -> Starlette:
    """The service over the database at ``settings.database_url`` (which must be set).

    ``traces``: a tracer provider to use instead of the one ``settings.traces_exporter``
    asks for (tests give one that keeps spans in memory)."""
    if settings.database_url is None:
        raise ValueError("create_app needs a database URL; the CLI starts the embedded one")
    if traces is None and settings.traces_exporter is not None:
        traces = tracer_provider(settings.traces_exporter)

    telemetry = Telemetry(Metrics(), traces)
    middleware = [Middleware(RequestTelemetry, telemetry=telemetry), *cors_middleware(settings.cors_origins)]
    if traces is not None:
        middleware.insert(0, http_spans(traces))
    graphql = GraphQLApp(schema, graphql_ide="graphiql", limits=settings.limits)
    app = _Service(
        routes=[
            Route("/graphql", graphql),
            WebSocketRoute("/graphql", graphql),
            Route("/queries/openapi.json", serve_openapi),
            Route("/queries/{name}", run_saved_query, methods=["GET", "POST"]),
            Route("/imports", post_import, methods=["POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", serve_metrics),
            graphiql_assets(),
        ],
        middleware=middleware,
        lifespan=_lifespan(settings, settings.database_url, traces),
    )
    app.state.settings = settings
    app.state.authenticator = Authenticator(settings.jwt)
    app.state.engine = QueryEngine(
        schema,
        settings.execution,
        fast_lane=not settings.trusted_documents_only,
        answers_budget=int(settings.answers_mib * 2**20),
    )
    app.state.telemetry = telemetry
    telemetry.metrics.read_from(app.state)
    # A bulkhead for /graphql and /queries alike: on 2 cores, more executions at once only
    # interleave, while each holds its whole result graph and its pool connections;
    # measured here, 64 at once took a worker past 480 MB.
    app.state.executions = asyncio.Semaphore(settings.limits.max_concurrent_executions)
    return app
