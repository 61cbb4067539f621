"""A request's bounds and faults, answered alike by /graphql and /queries/{name}.

A request is admitted and runs inside ``answering_faults``: its body's and its own timeouts,
the database's faults and the cancellation at the end of SIGTERM's grace become ``Refused``
(408, 503: a code, ``Retry-After``), never an uncoded 500. ``outage`` tells a response that
produced no data because of such a fault, which a load balancer must see as a 5xx where the
media type allows it: always on /queries/{name}, and on /graphql under
``application/graphql-response+json``; under ``application/json`` GraphQL over HTTP
requires 200 for any well-formed response.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request

from db.errors import DatabaseUnavailable
from resolvers.limits import LimitSettings

from .admission import RETRY_AFTER, Refused, identify, read_body, unavailable
from .media import GRAPHQL_RESPONSE

__all__ = ["answering_faults", "graphql_outage", "outage"]

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def answering_faults(
    request: Request, limits: LimitSettings, *, admit: bool = False, graphql: bool = True
) -> AsyncIterator[None]:
    """Run the block within ``LIAISON_REQUEST_TIMEOUT``; raise its faults as ``Refused``.

    With ``admit``, the request is admitted first (``admission``): its body read within
    ``LIAISON_BODY_TIMEOUT`` (``graphql``: a GraphQL request's, checked), after which the
    request's own bound starts, then its caller identified. One timer serves both bounds,
    moved from the body's to the request's once the body is in: a second timer, set and
    cancelled, cost a known compiled request 10 µs of its 235 (in process, bench/RESULTS.md)."""
    body_due = admit
    try:
        async with asyncio.timeout(limits.body_timeout if admit else limits.request_timeout) as bound:
            if admit:
                await read_body(request, limits, graphql=graphql)
                body_due = False
                bound.reschedule(asyncio.get_running_loop().time() + limits.request_timeout)
                await identify(request)
            yield
    except asyncio.CancelledError:
        # uvicorn cancels what is still running when SIGTERM's grace period ends: the
        # client gets an answer saying so, not the 500 of an unhandled cancellation.
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
        log.warning("request %s cancelled: the service is shutting down", request.headers.get("x-request-id", "-"))
        message = "The service is restarting; try again."
        raise Refused(503, "SHUTTING_DOWN", message, {"Retry-After": RETRY_AFTER["SHUTTING_DOWN"]}) from None
    except TimeoutError:
        if body_due:
            message = f"The request body did not arrive within {limits.body_timeout:g}s; send it at once."
            raise Refused(408, "BODY_TIMEOUT", message, {"Connection": "close"}) from None
        seconds = limits.request_timeout
        log.warning("request %s cancelled after %ss", request.headers.get("x-request-id", "-"), seconds)
        message = f"The request took longer than {seconds:g}s and was cancelled; ask for less."
        raise Refused(503, "REQUEST_TIMEOUT", message) from None
    except DatabaseUnavailable as fault:
        raise unavailable(fault) from fault


def outage(body: Any) -> dict[str, str] | None:
    """The headers of a 503 (``Retry-After``) when ``body``, a GraphQL response, produced no
    data (``data`` null, or every root field null) only because of faults that say "try
    again"; None otherwise: a partial answer, or an error the client can act on."""
    if not isinstance(body, dict) or not body.get("errors"):
        return None
    data = body.get("data")
    if data is not None and not (isinstance(data, dict) and all(value is None for value in data.values())):
        return None
    codes = {(error.get("extensions") or {}).get("code") for error in body["errors"]}
    if not codes <= RETRY_AFTER.keys():
        return None
    return {"Retry-After": str(max(int(RETRY_AFTER[code]) for code in codes))}  # type: ignore[index]


def graphql_outage(media_type: str, body: Any) -> dict[str, str] | None:
    """``outage`` for /graphql, where only ``application/graphql-response+json`` lets a
    well-formed response be a 503; shared by Strawberry's path and the fast lane."""
    return outage(body) if media_type == GRAPHQL_RESPONSE else None
