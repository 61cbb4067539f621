"""The compiled fast lane: a request the service has already served compiled, served again
without Strawberry's pipeline.

Taken by a request the engine routed here (``schema.engine``: compiled mode, a plain
POSTed query). A query whose text, operation, viewer and variable shape match a statement
the compiled path rendered before is known to parse, validate and compile; its document is
kept parsed. So it needs only what the pipeline would still do for it: coerce its variables
and bind their values to the statement (validated by the resolvers' functions,
``schema.compiled.statement_for``), measure it for these values (kept per variables, as
``LimitSettings`` keeps it), the limits and the budget charge (``schema.limits.admit_operation``,
the same function), the one statement, and the same response: ``data`` as PostgreSQL wrote
it, ``extensions.cost``, the same headers. Anything else (a first request, a new shape, a
batch, a persisted query, a refusal, a fault) goes through the pipeline, which words
errors as it always does.
"""

from __future__ import annotations

from typing import Any

import orjson
from graphql import OperationDefinitionNode
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast
from starlette.requests import Request
from starlette.responses import Response

from db.answers import fetch_answer
from db.errors import DatabaseUnavailable, InvalidInput
from resolvers.compiler import NotCompiled
from schema.caches import DocumentCaches
from schema.compiled import HEADER, Statement, fault_error, known_statement, statement_for
from schema.limits import admit_operation, cost_extension, measured
from schema.tracing import operation_span

from .admission import context_for
from .faults import graphql_outage
from .media import response_media_type

__all__ = ["serve_known"]


async def serve_known(request: Request) -> Response | None:
    """The response to an admitted request routed to the fast lane that the compiled path
    knows, or None."""
    admitted = request.state
    payload, viewer = admitted.graphql_request, admitted.viewer
    query, operation_name = payload["query"], payload.get("operationName")
    media_type = response_media_type(request.headers.get("accept"))
    variables = payload.get("variables")
    if media_type is None or not isinstance(variables, dict | None):
        return None
    limits = request.app.state.settings.limits
    engine = request.app.state.engine
    caches = engine.caches
    parsed = caches.parsed.get(query, limits.max_tokens) if operation_name is None else None
    if operation_name is None and parsed is not None:
        operation_name = _only_operation_name(parsed.document)
    # Sent before: neither coerced, bound nor measured again.
    statement = known_statement(caches, query, operation_name, viewer, variables, limits.max_page_size)
    found = measured(caches, query, operation_name, variables, limits) if statement is not None else None
    if statement is None or found is None:  # new values: coerced, bound to their shape's statement, measured
        parsed = parsed or caches.parsed.get(query, limits.max_tokens)
        if parsed is None or parsed.points_due:  # new to the process, or its parse not yet charged
            return None
        operation = get_operation_ast(parsed.document, operation_name)
        if operation is None:
            return None
        coerced = get_variable_values(engine.compiler.schema, operation.variable_definitions or (), variables or {})
        if isinstance(coerced, list):
            return None
        asked = (query, operation_name, parsed.document, operation, coerced, viewer, limits.max_page_size)
        statement = _bound(caches, *asked, variables)
        measuring = (engine.compiler.schema, parsed.document, operation, coerced)
        found = measured(caches, query, operation_name, variables, limits, measuring) if statement else None
    if statement is None or found is None:
        return None
    headers = Response()
    del headers.headers["content-length"]
    context = context_for(request, headers)
    refused, spend = await admit_operation(found, context)
    if refused is not None:
        return None  # refused before anything was charged: the pipeline refuses it again, in its words
    extensions = orjson.dumps(cost_extension(found, limits, spend))
    try:
        with operation_span(context.tracer, operation_name) as span:
            span.set_attribute("liaison.execution", "fast_lane")
            text = await fetch_answer(
                context.db, engine.answers, statement.sql, statement.values, statement.check, statement.shared
            )
    except InvalidInput:
        return None
    except DatabaseUnavailable as fault:  # answered at once: the pipeline would wait for it again
        context.record.errors.append(fault.code)
        error = fault_error(fault, [statement.first_key] if statement.first_key else []).formatted
        body = b'{"data":null,"errors":[' + orjson.dumps(error) + b'],"extensions":' + extensions + b"}"
        retry = graphql_outage(media_type, {"data": None, "errors": [error]})
    else:
        body = b'{"data":' + text.encode() + b',"extensions":' + extensions + b"}"
        retry = None
    engine.served.update(("compiled", "fast_lane"))
    context.record.started(operation_name, "query")
    context.record.execution = "fast_lane"
    response = Response(body, status_code=200 if retry is None else 503)
    response.headers.raw.extend(headers.headers.raw)
    response.headers.update(retry or {})
    response.headers["content-type"] = f"{media_type}; charset=utf-8"
    response.headers[HEADER] = "compiled"
    return response


def _bound(caches: DocumentCaches, *known: Any) -> Statement | None:
    """The kept statement of this request's shape, bound to its values; None for a shape not
    planned yet, or a value the resolvers refuse (the pipeline refuses it in their words)."""
    try:
        return statement_for(caches, None, *known)
    except NotCompiled:
        return None


def _only_operation_name(document: Any) -> str | None:
    """The name Strawberry gives a request without ``operationName``, which its statement
    and measure were kept under: the one operation's (None for an anonymous one, which the
    pipeline serves)."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].name is None:
        return None
    return operations[0].name.value
