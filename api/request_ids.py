"""``X-Request-ID`` on every HTTP response and websocket handshake, so that any answer can
be quoted in a report.

``RequestIds`` wraps the whole app, outside Starlette's own error middleware (see
``api.app``): the GraphQL view, the router's 404 and 405, the static files and a 500 all
answer through it. The id is ``resolvers.context.request_id``'s, kept in the request's
state, so the context, the logs and the header name the same one.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers.context import REQUEST_ID, request_id

__all__ = ["RequestIds"]


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        identifier = request_id(HTTPConnection(scope))

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID] = identifier
            elif message["type"] == "websocket.accept":  # the handshake's 101 carries it
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", identifier.encode())]}
            await send(message)

        await self.app(scope, receive, sending)
