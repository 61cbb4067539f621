"""Faults met after admission, answered alike by /graphql and /queries/{name}.

A request runs inside ``answering_faults``: its timeout, the database's faults and the
cancellation at the end of SIGTERM's grace become ``Refused`` (503, a code, ``Retry-After``),
never an uncoded 500. ``outage`` tells a response that produced no data because of such a
fault, which a load balancer must see as a 5xx where the media type allows it: always on
/queries/{name}, and on /graphql under ``application/graphql-response+json``; under
``application/json`` GraphQL over HTTP requires 200 for any well-formed response.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request

from db.errors import DatabaseUnavailable

from .admission import RETRY_AFTER, Refused, unavailable
from .media import GRAPHQL_RESPONSE

__all__ = ["answering_faults", "graphql_outage", "outage"]

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def answering_faults(request: Request, seconds: float) -> AsyncIterator[None]:
    """Run the block within ``seconds``; raise its faults as ``Refused``."""
    try:
        async with asyncio.timeout(seconds):
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
