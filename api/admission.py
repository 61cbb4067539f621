"""Admitting a request before GraphQL runs it: a bounded body, a known caller.

Shared by /graphql and /queries/{name}, so both obey the same body limit, credentials
and router secret, and refuse in the same shape: a GraphQL-style JSON body with a code.
``api.faults.answering_faults`` runs ``read_body`` then ``identify``, within their bounds.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from db.access import ANONYMOUS
from db.errors import DatabaseUnavailable
from resolvers.context import Context, request_id
from resolvers.limits import LimitSettings
from resolvers.private_apis import keep_body
from resolvers.record import RequestRecord

from .auth import Unauthenticated
from .jsonout import dumps
from .media import JSON, request_media_type, response_media_type

__all__ = [
    "HTTP_CODES",
    "RETRY_AFTER",
    "ROUTER_SECRET_HEADER",
    "Refused",
    "context_for",
    "identify",
    "read_body",
    "record_of",
    "refusal",
    "unavailable",
    "websocket_context",
]

ROUTER_SECRET_HEADER = "X-Router-Secret"  # noqa: S105 (a header name)
"""The header a federation router sends with the secret both sides share (LIAISON_ROUTER_SECRET)."""

HTTP_CODES = {
    400: "BAD_REQUEST",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


RETRY_AFTER = {
    "DATABASE_UNAVAILABLE": "5",
    "SERVICE_OVERLOADED": "1",
    "SHUTTING_DOWN": "1",
    "STATEMENT_CANCELLED": "1",
    "WRITE_CONFLICT": "1",
}
"""Seconds (``Retry-After``) to wait after each code that means: no answer now, try again."""


class Refused(Exception):
    """A request refused before GraphQL sees it: an HTTP status and a stable code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


def unavailable(fault: DatabaseUnavailable) -> Refused:
    """A database fault as the HTTP layer answers it: 503, its code, when to retry."""
    return Refused(503, fault.code, str(fault), {"Retry-After": RETRY_AFTER[fault.code]})


def refusal(request: Request, refused: Refused) -> Response:
    """The refusal's JSON answer; the request's id in the error when the fault is the
    server's (5xx), as for an internal error, so that a report can quote it."""
    media_type = response_media_type(request.headers.get("accept")) or JSON
    record_of(request).errors.append(refused.code)
    extensions = {"code": refused.code}
    identifier = request_id(request)
    if refused.status >= 500:
        extensions["requestId"] = identifier
    body = {"errors": [{"message": str(refused), "extensions": extensions}]}
    return Response(
        dumps(body),
        status_code=refused.status,
        headers=refused.headers,
        media_type=f"{media_type}; charset=utf-8",
    )


async def read_body(request: Request, limits: LimitSettings, *, graphql: bool = True) -> None:
    """Read a body within ``LIAISON_MAX_BODY_BYTES`` (``graphql``: a GraphQL request's,
    checked); raise ``Refused`` otherwise. The caller bounds the time it takes
    (``api.faults.answering_faults``): a client sending it slowly holds a connection and a task."""
    limit = limits.max_body_bytes
    if request.method != "POST":
        return
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, "PAYLOAD_TOO_LARGE", f"The request body may hold at most {limit} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Refused(413, "PAYLOAD_TOO_LARGE", f"The request body may hold at most {limit} bytes.")
    state = request.state
    state.graphql_request = None
    if graphql and request_media_type(request.headers.get("content-type", "")) == JSON:
        checked, state.graphql_request = _checked_graphql_body(bytes(body))
        body = bytearray(checked)
    keep_body(request, bytes(body))


async def identify(request: Request) -> None:
    """Establish the viewer and whether the federation router sent the request; raise
    ``Refused`` for a credential that is not valid."""
    app, state, headers = request.app.state, request.state, request.headers
    secret = app.settings.router_secret
    given = headers.get(ROUTER_SECRET_HEADER, "")
    matches = secret is not None and hmac.compare_digest(given.encode(), secret.encode())
    state.router_verified = matches
    state.from_router = secret is None or matches
    try:
        state.viewer = await app.authenticator.viewer(headers.get("authorization"), app.db)
    except Unauthenticated as exc:
        raise Refused(401, exc.code, str(exc), {"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc
    except DatabaseUnavailable as fault:
        raise unavailable(fault) from fault


_DOCUMENT_ID = re.compile(r"(sha256:)?[0-9a-f]{64}")
"""A persisted document's id: its SHA-256, as GraphQL over HTTP writes it (the bare hash
that Apollo's clients send is taken too)."""
_FIELDS = {"query": str, "operationName": str, "variables": dict, "extensions": dict, "documentId": str}


def _checked_graphql_body(body: bytes) -> tuple[bytes, Any]:
    """A POSTed GraphQL request as Strawberry can take it: a JSON object, or an array of
    them (a batch), whose fields have their types; ``documentId`` (GraphQL over HTTP's
    persisted documents) becomes the hash Apollo's clients send, so one path serves both.
    Returned with the parsed request, which the compiled fast lane reads."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:  # orjson refuses what json takes: lone surrogates, huge integers
        try:
            data = json.loads(body.decode())
        except RecursionError as exc:  # JSON, nested past the decoder's limit: said as for a GET
            raise Refused(400, "BAD_REQUEST", "The request's JSON is nested too deeply.") from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise Refused(400, "BAD_REQUEST", "The body must be JSON, in UTF-8.") from exc
    items = data if isinstance(data, list) else [data]
    if not items:
        raise Refused(400, "BAD_REQUEST", "A batch holds at least one operation.")
    changed = False
    for item in items:
        if not isinstance(item, dict):
            raise Refused(400, "BAD_REQUEST", "A request is a JSON object; a batch, an array of them.")
        for name, kind in _FIELDS.items():
            if item.get(name) is not None and not isinstance(item[name], kind):
                raise Refused(400, "BAD_REQUEST", f"`{name}` must be a JSON {'object' if kind is dict else 'string'}.")
        document_id = item.pop("documentId", None)
        if document_id is not None and not _DOCUMENT_ID.fullmatch(document_id):
            raise Refused(400, "BAD_REQUEST", "`documentId` must be `sha256:` followed by 64 lowercase hex digits.")
        if document_id is not None and item.get("query") is None:
            persisted = {"version": 1, "sha256Hash": document_id.removeprefix("sha256:")}
            item["extensions"] = {**(item.get("extensions") or {}), "persistedQuery": persisted}
        changed |= document_id is not None
    return (json.dumps(data).encode() if changed else body), data


def context_for(request: Request, response: Response | None) -> Context:
    """The per-request context of an admitted request."""
    app, admitted = request.app.state, request.state
    route = app.engine.route(request)
    return Context(
        request=request,
        response=response,
        db=app.db,
        viewer=admitted.viewer,
        limits=app.settings.limits,
        budget=app.budget,
        engine=app.engine,
        execution="compiled" if route == "fast_lane" else route,
        from_router=admitted.from_router,
        router_verified=admitted.router_verified,
        record=record_of(request),
        tracer=app.telemetry.tracer,
    )


def record_of(request: Request) -> RequestRecord:
    """The request's record (``api.telemetry`` makes one per request; a bare app, one here)."""
    record = getattr(request.state, "record", None)
    if record is None:
        record = request.state.record = RequestRecord()
    return record


def websocket_context(websocket: WebSocket) -> Context:
    """A websocket's context: anonymous until its ``connection_init`` names a credential
    (``api.subscriptions``), with the process's case event hub."""
    state = websocket.app.state
    return Context(
        request=websocket,
        response=None,
        db=state.db,
        viewer=ANONYMOUS,
        limits=state.settings.limits,
        budget=state.budget,
        engine=state.engine,
        execution=state.engine.route(websocket),
        events=state.events,
    )
