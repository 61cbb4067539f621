"""CORS for the browser frontends of ``LIAISON_CORS_ORIGINS``: Starlette's CORSMiddleware."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse, Response

__all__ = ["cors_middleware"]


class _CORSMiddleware(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        # Starlette lists the allowed methods and headers even to an origin it refuses;
        # a page on another origin learns nothing here.
        if not self.is_allowed_origin(request_headers["origin"]):
            return PlainTextResponse("Disallowed CORS origin", status_code=400, headers={"Vary": "Origin"})
        return super().preflight_response(request_headers)


def cors_middleware(origins: Sequence[str]) -> list[Middleware]:
    """What lets pages on ``origins`` call the API (GET and POST of JSON); nothing when there are none."""
    if not origins:
        return []
    return [Middleware(_CORSMiddleware, allow_origins=origins, allow_methods=("GET", "POST"), max_age=600)]
