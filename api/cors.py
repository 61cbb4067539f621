"""CORS for the browser frontends of ``LIAISON_CORS_ORIGINS``: Starlette's CORSMiddleware."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

__all__ = ["ALLOWED_HEADERS", "EXPOSED_HEADERS", "cors_middleware"]

ALLOWED_HEADERS = (
    "Authorization",  # an API key or a bearer token: no cookies, so no allow-credentials
    "Content-Type",
    "Idempotency-Key",
    "X-Request-ID",
    "traceparent",  # W3C trace context
    "tracestate",
    "apollographql-client-name",  # what Apollo's and urql's clients add
    "apollographql-client-version",
    "apollo-require-preflight",
    "X-Apollo-Operation-Name",
)
"""Request headers a page may send besides the CORS-safelisted ones."""

EXPOSED_HEADERS = (
    "X-Request-ID",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Used",
    "X-RateLimit-Reset",
    "Retry-After",
    "ETag",
    "X-Liaison-Execution",
    "X-Query-Cost",
    "X-Saved-Query-Version",
    "X-Export-Truncated",
    "X-Export-Row-Limit",
    "X-Export-Truncated-Lists",
    "Content-Disposition",
)
"""Response headers a page may read: the request id to quote, the budget, caching, the path,
whether an export was cut at its row limit, and the export's file name."""


class _CORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        # Starlette lists the allowed methods and headers even to an origin it refuses;
        # a page on another origin learns nothing here.
        if not self.is_allowed_origin(request_headers["origin"]):
            return PlainTextResponse("Disallowed CORS origin", status_code=400, headers={"Vary": "Origin"})
        return super().preflight_response(request_headers)

    async def simple_response(self, scope: Scope, receive: Receive, send: Send, request_headers: Headers) -> None:
        # Starlette sends Access-Control-Expose-Headers to any origin; only ours get CORS headers.
        origin = request_headers.get("origin")
        if origin is None or not self.is_allowed_origin(origin):
            await self.app(scope, receive, send)
            return
        await super().simple_response(scope, receive, send, request_headers)


def cors_middleware(origins: Sequence[str]) -> list[Middleware]:
    """What lets pages on ``origins`` call the API (GET and POST of JSON, with a credential);
    nothing when there are none. Browsers keep a preflight for ``max_age`` seconds (Chromium
    caps it at 7,200)."""
    if not origins:
        return []
    return [
        Middleware(
            _CORSMiddleware,
            allow_origins=origins,
            allow_methods=("GET", "POST"),
            allow_headers=ALLOWED_HEADERS,
            expose_headers=EXPOSED_HEADERS,
            max_age=7200,
        )
    ]
