"""Media types: which one a GraphQL response goes out in, from the request's ``Accept``
header, and which one a request's body is in."""

from __future__ import annotations

from strawberry.http.parse_content_type import parse_content_type

__all__ = ["GRAPHQL_RESPONSE", "JSON", "request_media_type", "response_media_type"]

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


def _specificity(media_range: str, media_type: str) -> int | None:
    """2 for the type itself, 1 for ``type/*``, 0 for ``*/*``; None when the range does not match."""
    if media_range == media_type:
        return 2
    if media_range == media_type.split("/")[0] + "/*":
        return 1
    return 0 if media_range == "*/*" else None


def _quality(accept: str, media_type: str) -> tuple[int, float]:
    """(specificity, q) of the most specific range of ``accept`` matching ``media_type``; (-1, 0) if none does."""
    best = (-1, 0.0)
    for item in accept.split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        specificity = _specificity(media_range.lower(), media_type)
        if specificity is None or specificity < best[0]:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best = (specificity, q) if specificity > best[0] else (specificity, max(q, best[1]))
    return best


def response_media_type(accept: str | None) -> str | None:
    """``application/graphql-response+json`` when the client names it and ranks it no lower
    than ``application/json``; else ``application/json`` if acceptable (also for no ``Accept``
    or ``*/*``: what every client, legacy ones included, reads); None when neither is.
    """
    if accept is None or not accept.strip():
        return JSON
    named, graphql_q = _quality(accept, GRAPHQL_RESPONSE)
    _, json_q = _quality(accept, JSON)
    if named == 2 and graphql_q > 0 and graphql_q >= json_q:
        return GRAPHQL_RESPONSE
    if json_q > 0:
        return JSON
    return GRAPHQL_RESPONSE if graphql_q > 0 else None


def request_media_type(content_type: str) -> str:
    """The media type a ``Content-Type`` names, without its parameters, as Strawberry parses
    it. The bare ``application/json`` most clients send is its own answer: the parse goes
    through the ``email`` package (about 2 % of a known query's CPU in a profile)."""
    return JSON if content_type == JSON else parse_content_type(content_type)[0]
