"""Admitting a request before GraphQL runs it: a bounded body, a known caller.

Shared by /graphql and /queries/{name}, so both obey the same body limit, credentials
and router secret, and refuse in the same shape: a GraphQL-style JSON body with a code.
"""

from __future__ import annotations

import hmac
import json

from starlette.requests import Request
from starlette.responses import Response

from db.errors import DatabaseUnavailable
from resolvers.context import Context
from resolvers.limits import Limits

from .auth import Unauthenticated, authenticate
from .media import JSON, response_media_type

__all__ = ["HTTP_CODES", "ROUTER_SECRET_HEADER", "Refused", "admit", "context_for", "refusal"]

ROUTER_SECRET_HEADER = "X-Router-Secret"  # noqa: S105 (a header name)
"""The header a federation router sends with the secret both sides share (LIAISON_ROUTER_SECRET)."""

HTTP_CODES = {
    400: "BAD_REQUEST",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


class Refused(Exception):
    """A request refused before GraphQL sees it: an HTTP status and a stable code."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


def refusal(request: Request, refused: Refused) -> Response:
    media_type = response_media_type(request.headers.get("accept")) or JSON
    body = {"errors": [{"message": str(refused), "extensions": {"code": refused.code}}]}
    return Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=refused.status,
        headers=refused.headers,
        media_type=f"{media_type}; charset=utf-8",
    )


async def admit(request: Request, limits: Limits) -> None:
    """Read a bounded body, and establish the viewer; raise ``Refused`` otherwise."""
    settings = request.app.state.settings
    limit = limits.max_body_bytes
    if request.method == "POST":
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise Refused(413, "PAYLOAD_TOO_LARGE", f"The request body may hold at most {limit} bytes.")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise Refused(413, "PAYLOAD_TOO_LARGE", f"The request body may hold at most {limit} bytes.")
        request._body = _document_id_as_hash(bytes(body))  # what Request.body() returns from now on
    secret = settings.router_secret
    given = request.headers.get(ROUTER_SECRET_HEADER, "")
    request.state.from_router = secret is None or hmac.compare_digest(given.encode(), secret.encode())
    try:
        request.state.viewer = await authenticate(
            request.headers.get("authorization"), request.app.state.db, settings.jwt
        )
    except Unauthenticated as exc:
        raise Refused(401, exc.code, str(exc), {"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc
    except DatabaseUnavailable as exc:
        raise Refused(503, exc.code, str(exc), {"Retry-After": "5"}) from exc


def _document_id_as_hash(body: bytes) -> bytes:
    """``{"documentId": "sha256:…"}`` (GraphQL over HTTP's persisted documents) as the hash
    Apollo's clients send, so one path serves both."""
    if b'"documentId"' not in body:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body  # Strawberry answers a body that is not JSON
    if not isinstance(data, dict) or not isinstance(data.get("documentId"), str) or "query" in data:
        return body
    document_id = data.pop("documentId").removeprefix("sha256:")
    extensions = data.get("extensions") if isinstance(data.get("extensions"), dict) else {}
    data["extensions"] = {**extensions, "persistedQuery": {"version": 1, "sha256Hash": document_id}}
    return json.dumps(data).encode()


def context_for(request: Request, response: Response | None) -> Context:
    """The per-request context of an admitted request."""
    state = request.app.state
    return Context(
        request=request,
        response=response,
        db=state.db,
        viewer=request.state.viewer,
        limits=state.settings.limits,
        budget=state.budget,
        from_router=request.state.from_router,
    )
