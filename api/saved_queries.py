"""``/queries/{name}``: saved operations run by name, for internal tools.

GET takes variables as query parameters (each coerced by the operation's declared type)
or as one ``variables`` JSON parameter; POST takes a JSON object of variables. ``version``
pins a version; the default is the latest one not deprecated. The answer is the GraphQL
response as JSON, or with ``format=csv`` or ``format=xlsx`` (or the ``Accept`` of either)
its lists exported whole (``api.exports``).
Caching as on ``GET /graphql`` (``api.http_cache``): ``Cache-Control`` from the operation's
cache hints, an ``ETag``, and 304 for ``If-None-Match`` with it.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    OperationDefinitionNode,
    parse,
    type_from_ast,
)
from starlette.requests import Request
from starlette.responses import Response

from db import saved
from resolvers.documents import is_mutation
from resolvers.private_apis import graphql_schema
from schema import schema
from schema.caches import DocumentCaches

from .admission import Refused, context_for, record_of, refusal
from .exports import FORMATS, export
from .faults import answering_faults, outage
from .http_cache import cacheable
from .jsonout import dumps
from .results import is_request_error

__all__ = ["run_saved_query"]

_RESERVED = {"version", "format", "variables"}


async def run_saved_query(request: Request) -> Response:
    limits = request.app.state.settings.limits
    try:
        async with answering_faults(request, limits, admit=True, graphql=False):
            operation = await _operation(request)
            record_of(request).saved_query = operation.name
            request.app.state.telemetry.metrics.saved_names.add(operation.name)
            variables = await _variables(request, operation)
            fmt = _format(request)
            if fmt is not None:
                return await export(request, operation, variables, fmt)
            response = Response()
            async with request.app.state.executions:
                result = await schema.execute(
                    operation.document,
                    variable_values=variables,
                    context_value=context_for(request, response),
                    operation_name=operation.operation_name,
                )
    except Refused as refused:
        return refusal(request, refused)
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [error.formatted for error in result.errors]
    if not is_request_error(result):
        body["data"] = result.data
    # Not extensions: its cost and budget change with every call and would defeat the ETag;
    # the same figures are in the X-RateLimit-* headers and X-Query-Cost.
    cost = (result.extensions or {}).get("cost", {}).get("requestedQueryCost")
    headers = {k: v for k, v in response.headers.items() if k.startswith(("x-", "retry-after", "cache-control"))}
    headers["X-Saved-Query-Version"] = str(operation.version)
    if cost is not None:
        headers["X-Query-Cost"] = str(cost)
    status = response.status_code if response.status_code != 200 else (200 if "data" in body else 400)
    retry = outage(body)
    if retry is not None:  # no data, because of a fault: not a GraphQL-over-HTTP endpoint, so a 503
        status = 503
        headers.update(retry)
    content = dumps(body)
    answer = Response(content, status_code=status, media_type="application/json; charset=utf-8", headers=headers)
    return cacheable(request, answer, content if status == 200 and not result.errors else None)


async def _operation(request: Request) -> saved.SavedOperation:
    name = request.path_params["name"]
    raw = request.query_params.get("version")
    if raw is not None and not (raw.isdigit() and 0 < int(raw) < 2**31):
        raise Refused(400, "BAD_USER_INPUT", "`version` is a positive whole number.")
    operation = await saved.find(request.app.state.db, name, int(raw) if raw else None)
    if operation is None:
        what = f"version {raw} of " if raw else ""
        raise Refused(404, "SAVED_QUERY_NOT_FOUND", f"There is no {what}saved query {name!r} (not deprecated).")
    if is_mutation(operation.document):
        raise Refused(400, "BAD_REQUEST", f"{name!r} is a saved mutation: send its hash to POST /graphql.")
    return operation


async def _variables(request: Request, operation: saved.SavedOperation) -> dict[str, Any]:
    if request.method == "POST":
        try:
            body = json.loads(await request.body() or b"{}")
        except RecursionError as exc:
            raise Refused(400, "BAD_REQUEST", "The request's JSON is nested too deeply.") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise Refused(400, "BAD_REQUEST", "The body must be a JSON object of variables.") from exc
        if not isinstance(body, dict):
            raise Refused(400, "BAD_REQUEST", "The body must be a JSON object of variables.")
        return body
    given = request.query_params.get("variables")
    if given is not None:
        try:
            variables = json.loads(given)
        except RecursionError as exc:
            raise Refused(400, "BAD_REQUEST", "The request's JSON is nested too deeply.") from exc
        except ValueError as exc:
            raise Refused(400, "BAD_REQUEST", "`variables` must be a JSON object.") from exc
        if not isinstance(variables, dict):
            raise Refused(400, "BAD_REQUEST", "`variables` must be a JSON object.")
        return variables
    declared = declared_variables(operation.document, request.app.state.engine.caches)
    variables = {}
    for name in {k for k in request.query_params if k not in _RESERVED}:
        if name not in declared:
            raise Refused(400, "BAD_USER_INPUT", f"The query has no variable `{name}`.")
        variables[name] = coerce_parameter(request.query_params.getlist(name), declared[name], name)
    return variables


def declared_variables(document: str, caches: DocumentCaches) -> dict[str, Any]:
    """The operation's variables and their types; saved documents are immutable, so kept."""
    declared = caches.declarations.get(document)
    if declared is None:
        operation = next(d for d in parse(document).definitions if isinstance(d, OperationDefinitionNode))
        declared = {
            v.variable.name.value: type_from_ast(graphql_schema(schema), v.type)
            for v in operation.variable_definitions or ()
        }
        # The types are the schema's; a name, its slot and a list or non-null wrapper each.
        caches.declarations.put(declared, sys.getsizeof(declared) + 300 * len(declared), document)
    return declared


_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)


def coerce_parameter(values: list[str], type_: Any, name: str) -> Any:
    """Query-parameter text as the variable's JSON value; repeat a parameter for a list."""
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        return [coerce_parameter([v], type_.of_type, name) for v in values]
    if len(values) > 1:
        raise Refused(400, "BAD_USER_INPUT", f"`{name}` takes one value; it was given {len(values)}.")
    value = values[0]
    if isinstance(type_, GraphQLScalarType) and type_.name in ("Int", "Float"):
        # ASCII as GraphQL writes numbers: int() and float() would also take 1_000, other
        # scripts' digits, spaces, nan and inf.
        if type_.name == "Int" and _INT.fullmatch(value):
            return int(value)
        if type_.name == "Float" and _FLOAT.fullmatch(value) and math.isfinite(number := float(value)):
            return number
        raise Refused(400, "BAD_USER_INPUT", f"`{name}` must be a number; got {value!r}.")
    if isinstance(type_, GraphQLScalarType) and type_.name == "Boolean":
        if value not in ("true", "false"):
            raise Refused(400, "BAD_USER_INPUT", f"`{name}` must be true or false; got {value!r}.")
        return value == "true"
    if isinstance(type_, GraphQLEnumType | GraphQLScalarType):
        return value
    try:
        return json.loads(value)  # an input object, as JSON
    except ValueError as exc:
        raise Refused(400, "BAD_USER_INPUT", f"`{name}` must be a JSON object.") from exc


def _format(request: Request) -> str | None:
    """``csv`` or ``xlsx`` for an export, by ``format`` or ``Accept``; None for JSON."""
    fmt = request.query_params.get("format")
    if fmt is not None:
        fmt = fmt.lower()
        if fmt != "json" and fmt not in FORMATS:
            raise Refused(400, "BAD_REQUEST", f"`format` is json, {' or '.join(FORMATS)}; not {fmt!r}.")
        return None if fmt == "json" else fmt
    accept = request.headers.get("accept", "")
    return next((name for name, media_type in FORMATS.items() if media_type in accept), None)
