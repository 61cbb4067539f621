"""Strawberry's ASGI app, with the per-request context."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from resolvers.context import Context

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
