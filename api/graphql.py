"""Strawberry's ASGI app, with the per-request context, speaking GraphQL over HTTP.

Strawberry already does most of https://graphql.github.io/graphql-over-http/ (queries by
GET and POST, mutations never by GET, 400 for a body that is not JSON or a parameter of the
wrong type, a missing ``query``). Added here, as graphql-http's audits ask
(tests/test_graphql_http.py):

- the response media type by content negotiation (``media.response_media_type``): 406 when
  the client accepts neither JSON type;
- a request error (the document does not parse or validate, the variables do not coerce:
  nothing was executed) has no ``data`` entry, and under
  ``application/graphql-response+json`` answers 400; ``application/json`` keeps 200;
- under ``application/graphql-response+json``, a response with no data only because the
  database is away or busy (``api.faults.outage``) answers 503 with ``Retry-After``, so a
  load balancer counting 5xx sees the outage; ``application/json`` keeps 200;
- 415 for a POST body that is not ``application/json``, 405 with ``Allow`` for a mutation
  by GET and for methods other than GET and POST;
- ``Cache-Control`` from the operation's cache hints, an ``ETag`` and 304 on GET
  (``api.http_cache``, as on ``/queries``).

And before any of it, the request is admitted (``api.faults.answering_faults``, ``admission``):
its body within ``LIAISON_MAX_BODY_BYTES`` (413) and ``LIAISON_BODY_TIMEOUT`` (408), its
credential valid (401), a batch within ``LIAISON_MAX_OPERATIONS``; it then runs within
``LIAISON_REQUEST_TIMEOUT`` and the bulkhead (``app.state.executions``).
Every refusal at the HTTP level is a GraphQL-shaped JSON body with a ``code``, like every
other error.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from resolvers.cases_write import IDEMPOTENCY_HEADER
from resolvers.context import Context
from resolvers.limits import LimitSettings

from .admission import HTTP_CODES, Refused, context_for, refusal, websocket_context
from .fast_lane import serve_known
from .faults import answering_faults, graphql_outage
from .http_cache import graphql_cacheable
from .ide import graphiql_page
from .jsonout import dumps
from .media import GRAPHQL_RESPONSE, JSON, request_media_type, response_media_type
from .results import is_request_error
from .subscriptions import SizedWebSocketAdapter, TransportWsHandler, websocket_options

__all__ = ["GraphQLApp"]


class GraphQLApp(GraphQL[Context, None]):
    websocket_adapter_class = SizedWebSocketAdapter
    graphql_transport_ws_handler_class = TransportWsHandler

    def __init__(self, schema: Any, *, limits: LimitSettings, **options: Any) -> None:
        super().__init__(schema, **options, **websocket_options(limits))
        self.limits = limits

    def encode_json(self, data: object) -> bytes:
        return dumps(data)

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None) -> Context:
        if isinstance(request, WebSocket):
            return websocket_context(request)
        return context_for(request, response if isinstance(response, Response) else None)

    @property
    def graphql_ide_html(self) -> str:
        return graphiql_page()

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET with only a persisted query's hash is a query, not a browser asking for GraphiQL.
        return super().should_render_graphql_ide(request) and request.query_params.get("extensions") is None

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # Read back by create_response; None (nothing acceptable) is refused in parse_http_body.
        sub_response.media_type = response_media_type(request.headers.get("accept"))
        return sub_response

    def parse_query_params(self, params: Any) -> dict[str, Any]:
        """A GET's parameters, ``variables`` and ``extensions`` parsed: one that is not JSON
        is named (Strawberry says "request body" of any)."""
        parsed = dict(params)
        for name in ("variables", "extensions"):
            if parsed.get(name):
                try:
                    parsed[name] = self.decode_json(parsed[name])
                except ValueError as exc:
                    raise HTTPException(400, f"The `{name}` query parameter must be JSON.") from exc
        return parsed

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        if response_media_type(request.headers.get("accept")) is None:
            raise HTTPException(406, f"This endpoint answers in {GRAPHQL_RESPONSE} or {JSON}.")
        if request.method == "POST" and request_media_type(request.content_type or "") != JSON:
            raise HTTPException(415, f"Send the GraphQL request as {JSON}.")
        try:
            data = await super().parse_http_body(request)
        except RecursionError as exc:  # JSON nested past the parser's recursion limit, e.g. in ?variables=
            raise Refused(400, "BAD_REQUEST", "The request's JSON is nested too deeply.") from exc
        limit = self.limits.max_operations
        if isinstance(data, list) and len(data) > limit:
            raise Refused(400, "TOO_MANY_OPERATIONS", f"A batch holds at most {limit} operations; got {len(data)}.")
        if isinstance(data, list) and request.headers.get(IDEMPOTENCY_HEADER) is not None:
            message = (
                f"The {IDEMPOTENCY_HEADER} header applies to a single operation; put `idempotencyKey` in each input."
            )
            raise Refused(400, "BAD_REQUEST", message)
        return data

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        return graphql_cacheable(request, await self._answer(request, context, root_value))

    async def _answer(self, request: Any, context: Any, root_value: Any) -> Any:
        # A 405 must say what is allowed (RFC 9110); Strawberry's answer to an HTTPException
        # has no headers, and its refusal of a mutation by GET is a 400.
        if isinstance(request, WebSocket):  # admitted in connection_init (api.subscriptions)
            return await super().run(request, context, root_value)
        try:
            async with answering_faults(request, self.limits, admit=True):
                if request.app.state.engine.route(request) == "fast_lane":
                    known = await serve_known(request)
                    if known is not None:
                        return known
                async with request.app.state.executions:
                    return await super().run(request, context, root_value)
        except Refused as refused:
            return refusal(request, refused)
        except HTTPException as exc:
            cause = exc.__cause__
            status, headers = exc.status_code, {}
            if isinstance(cause, InvalidOperationTypeError) and cause.operation_type is OperationType.MUTATION:
                status, headers = 405, {"Allow": "POST"}
            elif status == 405:
                headers = {"Allow": "GET, POST"}
            return refusal(request, Refused(status, HTTP_CODES.get(status, "BAD_REQUEST"), exc.reason, headers))

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        """Run the document the request names: its text, a saved one, or a persisted query."""
        documents = request.app.state.documents
        text = await documents.resolve(
            request_data.query, request_data.extensions, context.db, context.viewer.trusted_only
        )
        if isinstance(text, GraphQLError):
            return ExecutionResult(data=None, errors=[text])
        request_data = dataclasses.replace(request_data, query=text)
        return await super().execute_single(request, request_adapter, sub_response, context, root_value, request_data)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        if is_request_error(result):
            del response["data"]
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or JSON
        response.headers["content-type"] = f"{media_type}; charset=utf-8"
        if response.status_code != 200:
            return response
        retry = graphql_outage(media_type, response_data)
        if retry is not None:  # no data, because of a fault: a load balancer must see it
            response.status_code = 503
            response.headers.update(retry)
        elif media_type == GRAPHQL_RESPONSE and isinstance(response_data, dict) and "data" not in response_data:
            response.status_code = 400  # a request error: see process_result
        return response
