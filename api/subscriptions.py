"""Subscriptions on /graphql: Strawberry's graphql-transport-ws, with this service's guards.

Only graphql-transport-ws is spoken (the legacy graphql-ws subprotocol had an auth bypass
in Strawberry, GHSA-vpwc-v33q-mq89); a handshake offering neither is closed with 4406.
Around Strawberry's protocol handler:

- ``connection_init`` carries the credential, ``{"Authorization": "Bearer <key or token>"}``,
  checked as the HTTP header is (``api.auth``); a wrong one closes with 4403 and a reason
  that starts with its code (``UNAUTHENTICATED: ...``). Without one, the connection is
  anonymous, and anonymous callers may not subscribe to case events.
- it must come within ``LIAISON_CONNECTION_INIT_TIMEOUT`` seconds (else 4408);
- only subscriptions run here: a query or mutation is answered with an ``error`` message
  whose code is ``OPERATION_NOT_ALLOWED`` (over HTTP, the router secret, idempotency keys
  and the write's answer hold; over the socket a mutation ran but answered without its case);
- operations in flight per connection: ``LIAISON_MAX_SUBSCRIPTIONS_PER_CONNECTION``; one
  more is answered with an ``error`` message whose code is ``TOO_MANY_SUBSCRIPTIONS``;
- a message from the client larger than ``LIAISON_MAX_MESSAGE_BYTES`` closes with 1009
  (message too big), as uvicorn does below it for a larger frame; one nested past the JSON
  parser's recursion limit closes with 4400, as a message that is not JSON does.

Subscribers that share an event's execution (``schema.subscription.SharedEventExecution``)
share its serialised data too: it is serialised for the first and the same bytes go into
each one's ``next`` message, with that subscriber's own operation id.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta
from json import JSONDecodeError
from typing import Any

import orjson
from graphql import GraphQLError, GraphQLFormattedError, get_operation_ast
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived, WebSocketDisconnected
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)

from db.errors import DatabaseUnavailable
from resolvers.context import Context
from resolvers.limits import LimitSettings
from schema.caches import parse_document
from schema.subscription import SharedData

from .auth import Unauthenticated
from .jsonout import dumps

__all__ = ["SizedWebSocketAdapter", "TransportWsHandler", "frame", "websocket_options"]

_REASON_BYTES = 123
"""The most a close frame's reason may hold (RFC 6455)."""


def _reason(code: str, message: str) -> str:
    return f"{code}: {message}".encode()[:_REASON_BYTES].decode(errors="ignore")


def websocket_options(limits: LimitSettings) -> dict[str, Any]:
    """Strawberry's view options for websockets under ``limits``."""
    return {
        "subscription_protocols": (GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        "connection_init_wait_timeout": timedelta(seconds=limits.connection_init_timeout),
        "max_subscriptions_per_connection": limits.max_subscriptions_per_connection,
    }


def frame(message: Mapping[str, Any]) -> bytes:
    """``message`` as JSON; shared data (``SharedData``) serialised once for all who share it."""
    payload = message.get("payload")
    if (
        message.get("type") == "next"
        and isinstance(payload, dict)
        and isinstance(data := payload.get("data"), SharedData)
    ):
        if data.serialised is None:  # a copy: orjson's output keeps a 4 KiB buffer, and this is kept
            data.serialised = memoryview(dumps(data)).tobytes()
        with contextlib.suppress(orjson.JSONEncodeError):  # a lone surrogate in the id: the plain way below
            return orjson.dumps({**message, "payload": {**payload, "data": orjson.Fragment(data.serialised)}})
    return dumps(message)


class TransportWsHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler, authenticating ``connection_init`` and
    refusing operations past the limit with a code."""

    context: Context

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        payload = message.get("payload") or {}
        if not self.connection_init_received and not self.connection_timed_out and isinstance(payload, dict):
            authorization = payload.get("Authorization", payload.get("authorization"))
            if authorization is not None and not isinstance(authorization, str):
                await self.websocket.close(4400, _reason("BAD_REQUEST", "`Authorization` must be a string."))
                return
            request = self.context.request
            try:
                viewer = await request.app.state.authenticator.viewer(authorization, self.context.db)
            except Unauthenticated as exc:
                await self.websocket.close(4403, _reason(exc.code, str(exc)))
                return
            except DatabaseUnavailable as fault:
                await self.websocket.close(1013, _reason(fault.code, str(fault)))  # 1013: try again later
                return
            self.context.viewer = viewer
            self.context.session = request.app.state.events.open(authorization, viewer)
        await super().handle_connection_init(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limit = self.max_subscriptions_per_connection
        if (
            self.connection_acknowledged
            and limit is not None
            and message.get("id") not in self.operations
            and len(self.operations) >= limit
        ):
            error: GraphQLFormattedError = {
                "message": f"A connection holds at most {limit} operations at once; complete one first.",
                "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS"},
            }
            await self.send_message(ErrorMessage(id=message["id"], type="error", payload=[error]))
            return
        if self.connection_acknowledged and self._operation_type(message) in ("query", "mutation"):
            error = {
                "message": "Only subscriptions run over the websocket; send queries and mutations by POST to /graphql.",
                "extensions": {"code": "OPERATION_NOT_ALLOWED"},
            }
            await self.send_message(ErrorMessage(id=message["id"], type="error", payload=[error]))
            return
        await super().handle_subscribe(message)

    def _operation_type(self, message: SubscribeMessage) -> str | None:
        """The type of the operation the message would run, or None where Strawberry's own
        parsing and validation will answer (no such operation, several and none named)."""
        payload = message.get("payload") or {}
        query, name = payload.get("query"), payload.get("operationName")
        if not isinstance(query, str) or not (name is None or isinstance(name, str)):
            return None
        max_tokens = self.context.limits.max_tokens
        parsed = self.context.engine.caches.parsed.get(query, max_tokens)
        try:
            document = parsed.document if parsed is not None else parse_document(query, max_tokens).document
        except GraphQLError:
            return None
        operation = get_operation_ast(document, name)
        return None if operation is None else operation.operation.value

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            if self.context.session is not None:
                self.context.request.app.state.events.close_session(self.context.session)


class SizedWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter, closing with 1009 on a message over ``LIAISON_MAX_MESSAGE_BYTES``,
    and sending text frames, as graphql-transport-ws asks (the view's JSON is bytes)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(frame(message).decode())
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    async def iter_json(self, *, ignore_parsing_errors: bool = False) -> AsyncGenerator[object, None]:
        limit = self.view.limits.max_message_bytes  # type: ignore[attr-defined]
        ws: WebSocket = self.ws
        try:
            while ws.application_state != WebSocketState.DISCONNECTED:
                text = await ws.receive_text()
                if len(text.encode()) > limit:
                    await ws.close(1009, _reason("PAYLOAD_TOO_LARGE", f"A message may hold at most {limit} bytes."))
                    return
                try:
                    decoded = self.view.decode_json(text)
                except RecursionError:  # valid JSON, nested past the parser's limit: a protocol error
                    await ws.close(4400, _reason("BAD_REQUEST", "The message's JSON is nested too deeply."))
                    return
                except JSONDecodeError as exc:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
                    continue
                yield decoded
        except KeyError as exc:
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            pass
