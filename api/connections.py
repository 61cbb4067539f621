"""uvicorn's httptools protocol with the two guards on connections that uvicorn lacks.

- A deadline for a request's headers (``LIAISON_HEADER_TIMEOUT``), from the connection's
  opening or a later request's first byte: uvicorn bounds only the idle time between
  requests (``timeout_keep_alive``), so a client sending half its headers held a
  connection for ever. When it passes, the client gets a 408 with a JSON body and the
  connection is closed (a bare close if a response is still being written on it).
- A cap on connections per process (``LIAISON_MAX_CONNECTIONS``): a request on a
  connection opened beyond it is answered 503 ``TOO_MANY_CONNECTIONS`` in the service's
  JSON, and the connection closed. uvicorn's own ``limit_concurrency`` answers a plain
  text "Service Unavailable" that no client can tell from a crash.

The body's deadline (``LIAISON_BODY_TIMEOUT``) is kept where the body is read
(``api.admission``), where a refusal can be an ordinary response.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from resolvers.limits import LimitSettings

from .jsonout import dumps

__all__ = ["http_protocol"]

log = logging.getLogger(__name__)


def _error(code: str, message: str) -> bytes:
    return dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, header_timeout: float, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self._headers_due: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            log.warning("more than %d connections: refusing a request", self.max_connections)
            self.app = _too_many_connections
        self._expect_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._expect_headers()  # a later request on a kept-alive connection: its own deadline

    def on_headers_complete(self) -> None:
        self._headers_arrived()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_arrived()
        super().connection_lost(exc)

    def _expect_headers(self) -> None:
        if self._headers_due is None:
            self._headers_due = self.loop.call_later(self.header_timeout, self._headers_late)

    def _headers_arrived(self) -> None:
        if self._headers_due is not None:
            self._headers_due.cancel()
            self._headers_due = None

    def _headers_late(self) -> None:
        self._headers_due = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            message = f"The request's headers did not arrive within {self.header_timeout:g}s."
            body = _error("HEADERS_TIMEOUT", message)
            head = (
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json; charset=utf-8\r\n"
                b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
            )
            self.transport.write(head + body)
        self.transport.close()


async def _too_many_connections(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI answer on a connection over the cap; it is closed after it."""
    body = _error("TOO_MANY_CONNECTIONS", "The service holds too many connections; try again in a moment.")
    headers = [
        (b"content-type", b"application/json; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def http_protocol(limits: LimitSettings) -> Callable[..., HttpToolsProtocol]:
    """The protocol factory to pass to uvicorn as ``http=``, with these limits: a partial, which
    pickles, so uvicorn's supervisor can hand it to the worker processes it spawns."""
    return functools.partial(
        GuardedHttpToolsProtocol, header_timeout=limits.header_timeout, max_connections=limits.max_connections
    )
