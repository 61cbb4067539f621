"""The fast lane's own door: raw ASGI in front of Starlette, for a POSTed query the compiled
path can serve from a kept statement.

Measured (bench/RESULTS.md, "A leaner fast lane"): of what a known request costs the
service, Starlette's middleware, router and Strawberry's entry are a small share; uvicorn,
the socket writes, the access line and the statement are the rest. This door takes those
layers off such a request and does what they would have done for it, with the same
functions: the request id (``resolvers.context.request_id``), its record, metrics and
access line (``api.telemetry.account``), admission (``admission.admit``: body limit, JSON,
credential, router secret), the faults' answers (``faults.answering_faults``), the lane
itself (``fast_lane.serve_known``: limits, cost, budget charge, the statement), the
caching headers (``http_cache.graphql_cacheable``) and the 500 of an unexpected error,
as Starlette words it.

Anything it cannot serve goes to the Starlette app unchanged, with the body it read
replayed: a request that is not ``POST /graphql``, a service that traces (the ASGI
instrumentation's span must wrap it) or answers a browser's ``Origin`` under CORS, a body
without a ``Content-Length`` within the limit or slower than ``LIAISON_BODY_TIMEOUT`` (the
pipeline then refuses it in its words), and an admitted request the lane does not know.
Such an admitted request carries ``state.lane_admitted``: the pipeline neither admits it
again (a credential looked up twice) nor asks the lane again.
"""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from resolvers.context import REQUEST_ID, request_id
from resolvers.limits import LimitSettings
from resolvers.record import RequestRecord

from .admission import Refused, admit, refusal
from .fast_lane import serve_known
from .faults import answering_faults
from .http_cache import graphql_cacheable
from .telemetry import account

__all__ = ["LaneFront"]

log = logging.getLogger(__name__)


class LaneFront:
    """``app`` (the whole Starlette stack) behind the fast lane's door; ``service``: the
    Starlette app whose state (settings, engine, telemetry, database) the lane reads."""

    def __init__(self, app: ASGIApp, service: Starlette) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._may_serve(scope):
            await self.app(scope, receive, send)
            return
        arrived = time.perf_counter()
        state = self.service.state
        read = await _body(receive, state.settings.limits)
        if isinstance(read, list):  # incomplete: the pipeline reads on and refuses it
            await self.app(scope, _replaying(read, receive), send)
            return
        scope["app"] = self.service
        request = Request(scope, _replaying([_message(read)], receive))
        request.state.arrived = arrived
        record = request.state.record = RequestRecord()
        identifier = request_id(request)
        status, started = 500, False  # 500 unless a response starts: an exception escaped

        async def sending(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                MutableHeaders(scope=message)[REQUEST_ID] = identifier
            await send(message)

        response: Response | None = None
        try:
            response = await _served(request)
            if response is not None:
                await graphql_cacheable(request, response)(scope, receive, sending)
        except Exception:
            if not started:  # nothing sent yet: as Starlette's ServerErrorMiddleware answers
                await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, sending)
            raise
        finally:
            if not getattr(request.state, "lane_admitted", False):  # else accounted by the pipeline
                account(state.telemetry, request, record, status, arrived)
        if response is None:  # admitted, not the lane's: the pipeline runs it
            await self.app(scope, _replaying([_message(await request.body())], receive), send)

    def _may_serve(self, scope: Scope) -> bool:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/graphql":
            return False
        declared = next((value for name, value in scope["headers"] if name == b"content-length"), b"")
        if not declared.isdigit():  # chunked, or refused as the pipeline words it
            return False
        state = self.service.state
        engine = getattr(state, "engine", None)
        if engine is None or engine.mode != "compiled" or not engine.fast_lane or scope.get("root_path"):
            return False
        if state.telemetry.tracer_provider is not None or int(declared) > state.settings.limits.max_body_bytes:
            return False
        return not (state.settings.cors_origins and any(name == b"origin" for name, _ in scope["headers"]))


async def _served(request: Request) -> Response | None:
    """The answer the pipeline would give an admitted request the lane knows, a refusal at
    admission, or None (``state.lane_admitted`` set) for the pipeline to run."""
    limits = request.app.state.settings.limits
    try:
        await admit(request, limits)
        engine = request.app.state.engine
        if engine.route(request) == "fast_lane":
            async with answering_faults(request, limits.request_timeout):
                known = await serve_known(request)
            if known is not None:
                return known
    except Refused as refused:
        return refusal(request, refused)
    request.state.lane_admitted = True
    return None


async def _body(receive: Receive, limits: LimitSettings) -> bytes | list[Message]:
    """The whole body, when its ``Content-Length`` is within the limit and it arrives in
    time; else the messages read so far."""
    messages: list[Message] = []
    chunks, size = [], 0
    try:
        async with asyncio.timeout(limits.body_timeout):
            while True:
                message = await receive()
                messages.append(message)
                if message["type"] != "http.request":
                    return messages
                chunk = message.get("body", b"")
                chunks.append(chunk)
                size += len(chunk)
                if size > limits.max_body_bytes:
                    return messages
                if not message.get("more_body", False):
                    return b"".join(chunks)
    except TimeoutError:
        return messages


def _message(body: bytes) -> Message:
    return {"type": "http.request", "body": body, "more_body": False}


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` with ``messages`` given first: what this door read, for the app behind."""
    pending = list(messages)

    async def replaying() -> Message:
        return pending.pop(0) if pending else await receive()

    return replaying
