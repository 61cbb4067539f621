"""The limits an operation must pass before it runs, and the budget it is charged against.

Tokens are capped while parsing (graphql-core stops reading past the cap). After
validation, one walk of the operation (``schema.cost``) gives its depth, aliases,
introspection use and cost in points; each over its limit refuses the operation with its
own code. An operation within limits is charged its points against its caller's budget
per window, and the response says what it cost and what remains, in ``extensions.cost``
and in ``X-RateLimit-*`` headers as GitHub's API does. A document the process had not
parsed before adds what parsing and validating it cost (``schema.caches.document_points``,
``documentCost`` in ``extensions.cost``), charged once, with its first admitted operation:
distinct documents are not free to send. The same walk gives the least max-age the
operation's fields' cache hints allow, put in the response's ``Cache-Control`` as Apollo's
cache-control plugin does (``schema.cache_control``; ``api.http_cache`` has the last word).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension

from db.access import Role
from resolvers import private_apis
from resolvers.context import Context
from resolvers.limits import Spend

from .cache_control import cache_header
from .caches import DocumentCaches, caches_of, plain_size, variables_key
from .cost import Measure, TooLarge, measure, measured_inputs
from .errors import INTERNAL
from .permissions import Forbidden

__all__ = ["OperationLimits", "admit_operation", "cost_extension", "measure_kept", "measured"]

log = logging.getLogger(__name__)

QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
RATE_LIMITED = "RATE_LIMITED"
INTROSPECTION_DISABLED = "INTROSPECTION_DISABLED"
FORBIDDEN = Forbidden.code


class OperationLimits(SchemaExtension):
    measured: Measure | None = None
    spend: Spend | None = None
    document_points: int = 0

    def on_parse(self) -> Iterator[None]:
        context: Context = self.execution_context.context
        self.execution_context.parse_options["max_tokens"] = context.limits.max_tokens
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        if execution.result is None and execution.graphql_document is not None:
            try:
                error = await self._check(execution.context)
            except Exception:  # a hook's exception would reach the client unmasked
                request_id = getattr(execution.context, "request_id", None)
                log.exception("limits check failed (request %s)", request_id)
                error = GraphQLError("Internal server error.", extensions={"code": INTERNAL, "requestId": request_id})
            if error is not None:
                execution.result = GraphQLExecutionResult(data=None, errors=[error])
        yield

    async def _check(self, context: Context) -> GraphQLError | None:
        execution = self.execution_context
        limits = context.limits
        caches = caches_of(execution)
        raw = variables_key(execution.variables)
        key = _measure_key(execution.query, execution.operation_name, raw, limits)
        found = caches.measured.get(*key) if raw is not None else None
        if found is None:
            document = execution.graphql_document
            assert document is not None  # on_execute checks
            operation = get_operation_ast(document, execution.operation_name)
            if operation is None:
                return None  # graphql-core reports the missing operation
            graphql_schema = private_apis.graphql_schema(self.execution_context.schema)
            variables = get_variable_values(
                graphql_schema, operation.variable_definitions or (), execution.variables or {}
            )
            if isinstance(variables, list):
                return None  # wrong variables: execution refuses them with graphql-core's errors
            try:
                found = measure_kept(caches, key, graphql_schema, document, operation, variables)
            except TooLarge:
                return _refuse(QUERY_TOO_COMPLEX, "The operation expands to too many selections; use fewer fragments.")
        self.measured = found
        parsed = caches.parsed.get(execution.query, execution.parse_options.get("max_tokens"))
        if parsed is not None:  # taken before the charge's await: a concurrent request of it is not charged too
            self.document_points, parsed.points_due = parsed.points_due, 0
        error, self.spend = await admit_operation(found, context, self.document_points)
        if error is None and context.response is not None:
            context.response.headers["Cache-Control"] = cache_header(found.max_age, found.private)
        if parsed is not None and (self.spend is None or not self.spend.allowed):
            parsed.points_due, self.document_points = self.document_points, 0  # not charged: the next run pays
        return error

    def get_results(self) -> dict[str, Any]:
        if self.measured is None:
            return {}
        limits = self.execution_context.context.limits
        return cost_extension(self.measured, limits, self.spend, self.document_points)


def measured(
    caches: DocumentCaches,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: Any,
    operation: tuple[Any, Any, Any, Any] | None = None,
) -> Measure | None:
    """The measure an earlier request of this document and these variables got, if kept;
    else, given the ``operation`` (graphql-core's schema, the document, the operation node,
    ``get_variable_values``' result), measured and kept as ``OperationLimits`` does; None when it expands too
    far to measure (the pipeline refuses it)."""
    key = _measure_key(query, operation_name, variables_key(variables), limits)
    found = caches.measured.get(*key) if key[2] is not None else None
    if found is not None or operation is None:
        return found
    try:
        return measure_kept(caches, key, *operation)
    except TooLarge:
        return None


MEASURE_BYTES = plain_size(Measure(2**40, 2**40, 2**40, True, 2**40, True, True, 2**40, True, 2**40))
"""A measure's bytes: its fields are numbers and flags, so every measure is at most this
(counted once, rather than field by field for each one kept)."""


def measure_kept(
    caches: DocumentCaches,
    key: tuple[Any, ...],
    graphql_schema: Any,
    document: Any,
    operation: Any,
    variables: Any,
) -> Measure:
    """The measure of the operation for ``variables`` (``get_variable_values``' result): an
    earlier request's whose variables read alike to the measure (``measured_inputs``: a new
    code measures as the old one did), else measured; kept under both, and under ``key``
    (``_measure_key``) unless the request's variables are too large to be one. TooLarge when
    it expands too far to measure."""
    alike = ("alike", key[0], key[1], measured_inputs(variables), key[-1])
    found = caches.measured.get(*alike)
    if found is None:
        found = measure(graphql_schema, document, operation, variables, key[-1])
        caches.measured.put(found, MEASURE_BYTES, *alike)
    if key[2] is not None:
        caches.measured.put(found, MEASURE_BYTES, *key)
    return found


def _measure_key(
    query: str | None, operation_name: str | None, variables: bytes | None, limits: Any
) -> tuple[Any, ...]:
    """What a measure depends on; last, the page size assumed where a connection names none."""
    return (query, operation_name, variables, min(20, limits.max_page_size))


async def admit_operation(
    found: Measure, context: Context, document_points: int = 0
) -> tuple[GraphQLError | None, Spend | None]:
    """Hold a measured operation to the limits and charge it to its caller's budget, with
    ``document_points`` for parsing its document when that was new to the process.

    The refusal, if any, and what was charged; the budget's figures go into the response's
    ``X-RateLimit-*`` headers (and a 429 with ``Retry-After`` when it is spent).
    """
    limits = context.limits
    if found.federation and not context.from_router:
        return _refuse(FORBIDDEN, "`_entities` and `_service` answer only the federation router."), None
    context.introspection_fields += found.introspection_fields
    if context.introspection_fields > 1:
        return _refuse(QUERY_TOO_COMPLEX, "One `__schema` or `__type` per request: introspection is costly."), None
    introspects = found.introspection or (found.service_sdl and not context.router_verified)
    if introspects and context.viewer.role is Role.ANONYMOUS and not limits.anonymous_introspection:
        return _refuse(INTROSPECTION_DISABLED, "Introspection needs a credential on this service."), None
    if found.depth > limits.max_depth:
        message = f"The operation is {found.depth} fields deep; at most {limits.max_depth}."
        return _refuse(QUERY_TOO_DEEP, message), None
    if found.aliases > limits.max_aliases:
        message = f"The operation has {found.aliases} aliases; at most {limits.max_aliases}."
        return _refuse(TOO_MANY_ALIASES, message), None
    if found.points > limits.max_cost:
        message = (
            f"The operation could cost {found.points:,} points; at most {limits.max_cost:,}. "
            "Ask for smaller pages (`first`/`last`) or fewer nested lists."
        )
        return _refuse(QUERY_TOO_COMPLEX, message), None
    who = context.viewer.credential or f"ip:{context.request.client.host if context.request.client else '-'}"
    points = max(found.points, 1) + document_points
    spend = await context.budget.charge(who, points)
    if spend.allowed:
        context.record.cost += points
    if context.response is not None:
        headers = context.response.headers
        headers["X-RateLimit-Limit"] = str(spend.limit)
        headers["X-RateLimit-Remaining"] = str(spend.remaining)
        headers["X-RateLimit-Used"] = str(spend.used)
        headers["X-RateLimit-Reset"] = str(spend.reset_at)
    if not spend.allowed:
        if context.response is not None:
            context.response.status_code = 429
            context.response.headers["Retry-After"] = str(max(spend.reset_at - int(time.time()), 1))
        message = (
            f"This operation costs {points:,} points and {spend.remaining:,} remain "
            f"in this window; it resets at {spend.reset_at} (epoch seconds)."
        )
        return _refuse(RATE_LIMITED, message), spend
    return None, spend


def cost_extension(found: Measure, limits: Any, spend: Spend | None, document_points: int = 0) -> dict[str, Any]:
    """``extensions.cost`` of a response, as GitHub's API reports a query's cost; besides,
    ``documentCost``: the points charged for parsing and validating a document new to the
    process (one per KB of text and one per 100 tokens), 0 once it is kept."""
    cost: dict[str, Any] = {
        "requestedQueryCost": found.points,
        "documentCost": document_points,
        "maximumAvailable": limits.max_cost,
    }
    if spend is not None:
        cost["budget"] = {"limit": spend.limit, "remaining": spend.remaining, "resetAt": spend.reset_at}
    return {"cost": cost}


def _refuse(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})
