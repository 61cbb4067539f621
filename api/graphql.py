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
- 415 for a POST body that is not ``application/json``, 405 with ``Allow`` for a mutation
  by GET and for methods other than GET and POST.
"""

from __future__ import annotations

import json
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from resolvers.context import Context

from .media import GRAPHQL_RESPONSE, JSON, response_media_type

__all__ = ["GraphQLApp"]


class GraphQLApp(GraphQL[Context, None]):
    def encode_json(self, data: object) -> str:
        # UTF-8 as is (Chinese names stay readable), compact: what PostgreSQL's JSON prints.
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket | None) -> Context:
        return Context(
            request=request,
            response=response if isinstance(response, Response) else None,
            db=request.app.state.db,
        )

    async def get_sub_response(self, request: Request | WebSocket) -> Response:
        sub_response = await super().get_sub_response(request)
        # Read back by create_response; None (nothing acceptable) is refused in parse_http_body.
        sub_response.media_type = response_media_type(request.headers.get("accept"))
        return sub_response

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> GraphQLRequestData | list[GraphQLRequestData]:
        if response_media_type(request.headers.get("accept")) is None:
            raise HTTPException(406, f"This endpoint answers in {GRAPHQL_RESPONSE} or {JSON}.")
        if request.method == "POST" and parse_content_type(request.content_type or "")[0] != JSON:
            raise HTTPException(415, f"Send the GraphQL request as {JSON}.")
        return await super().parse_http_body(request)

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        # A 405 must say what is allowed (RFC 9110); Strawberry's answer to an HTTPException
        # has no headers, and its refusal of a mutation by GET is a 400.
        try:
            return await super().run(request, context, root_value)
        except HTTPException as exc:
            cause = exc.__cause__
            if isinstance(cause, InvalidOperationTypeError) and cause.operation_type is OperationType.MUTATION:
                return PlainTextResponse(exc.reason, status_code=405, headers={"Allow": "POST"})
            if exc.status_code == 405:
                return PlainTextResponse(exc.reason, status_code=405, headers={"Allow": "GET, POST"})
            raise

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        response = await super().process_result(request, result)
        # Field errors carry a path; errors raised before execution began do not, and then
        # the GraphQL spec says the response has no data entry at all.
        if result.data is None and result.errors and all(error.path is None for error in result.errors):
            del response["data"]
        return response

    def create_response(
        self, response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse], sub_response: Response
    ) -> Response:
        response = super().create_response(response_data, sub_response)
        media_type = sub_response.media_type or JSON
        response.headers["content-type"] = f"{media_type}; charset=utf-8"
        if (
            media_type == GRAPHQL_RESPONSE
            and isinstance(response_data, dict)
            and "data" not in response_data
            and response.status_code == 200
        ):
            response.status_code = 400  # a request error: see process_result
        return response
