"""HTTP caching of query answers: one policy for ``GET /graphql`` and ``/queries/{name}``.

The operation's ``Cache-Control`` comes from its fields' cache hints (``schema.cache_control``,
put on the response by the Limits extension). It stands only for an answer a cache may keep:

- with a credential, ``private, no-store``: the answer is the caller's own (it may hold
  personal data, masked or not, by role);
- mutations (no hints: 0 seconds), answers with errors, refusals, and POSTs (which HTTP
  caches do not keep) are ``no-store``.

A successful answer carries an ``ETag``; a request whose ``If-None-Match`` holds it gets a
304 without a body. On ``/graphql`` the tag is weak and digests ``data`` alone:
``extensions.cost`` tells the budget left, which changes with every call.
"""

from __future__ import annotations

import hashlib

import orjson
from starlette.requests import Request
from starlette.responses import Response

from .jsonout import dumps
from .media import GRAPHQL_RESPONSE, JSON

__all__ = ["cacheable", "graphql_cacheable"]


def cacheable(request: Request, response: Response, tagged: bytes | None, *, weak: bool = False) -> Response:
    """``response`` under the policy above; ``tagged``: what its ETag digests, for a successful
    answer to a query; None: nothing to keep."""
    hinted = response.headers.get("cache-control")
    if tagged is None or hinted is None or request.method != "GET":
        control = "no-store"
    elif request.headers.get("authorization"):
        control = "private, no-store"
    else:
        control = hinted
    response.headers["Cache-Control"] = control
    if tagged is None:
        return response
    digest = hashlib.sha256(tagged).hexdigest()[:32]
    etag = f'W/"{digest}"' if weak else f'"{digest}"'
    response.headers["ETag"] = etag
    response.headers["Vary"] = "Accept, Authorization"
    wanted = {tag.strip().removeprefix("W/") for tag in request.headers.get("if-none-match", "").split(",")}
    if etag.removeprefix("W/") in wanted or "*" in wanted:
        kept = {k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")}
        return Response(status_code=304, headers=kept)
    return response


def graphql_cacheable(request: Request, response: Response) -> Response:
    """A ``/graphql`` response under the policy; GraphiQL's page is left as it is."""
    media_type = response.headers.get("content-type", "").partition(";")[0]
    if media_type not in (JSON, GRAPHQL_RESPONSE):
        return response
    tagged = None
    if request.method == "GET" and response.status_code == 200:
        body = orjson.loads(response.body)
        if isinstance(body, dict) and "data" in body and not body.get("errors"):
            tagged = dumps(body["data"])
    return cacheable(request, response, tagged, weak=True)
