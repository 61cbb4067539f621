"""What every resolver gets as ``info.context``: built per request, never shared."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from db.access import Viewer
from db.pool import Database

from .limits import Budget, LimitSettings
from .loaders import Loaders
from .record import RequestRecord

Execution = Literal["compiled", "dataloader", "verify"]
"""How operations run: on the compiled path, the generic (DataLoader) path, or both, compared."""

if TYPE_CHECKING:
    from .case_events import EventHub, Session

__all__ = ["REQUEST_ID", "Context", "Execution", "request_id"]


REQUEST_ID = "X-Request-ID"


def request_id(connection: HTTPConnection) -> str:
    """The caller's X-Request-ID when it sends a sane one, else a new one: the same for the
    whole request, so a refusal before or after GraphQL runs names the id the context echoes."""
    known = getattr(connection.state, "request_id", None)
    if known is None:
        given = connection.headers.get(REQUEST_ID, "")
        known = given if 0 < len(given) <= 64 and given.isascii() and given.isprintable() else secrets.token_hex(16)
        connection.state.request_id = known
    return known


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | None
    db: Database
    viewer: Viewer
    limits: LimitSettings
    budget: Budget
    engine: Any
    """The app's ``schema.engine.QueryEngine``: its compiler, caches and counts (typed Any:
    resolvers/ does not import schema/)."""
    execution: Execution = "compiled"
    """The path the engine chose for this request: compiled, dataloader, or verify (both,
    compared)."""
    from_router: bool = True
    """The request carries the federation router's shared secret, or none is configured."""
    router_verified: bool = False
    """The request carries the router secret, and one is configured."""
    introspection_fields: int = 0
    """``__schema``/``__type`` fields asked for so far, across a batch's operations."""
    idempotent_replay: bool = False
    """A mutation answered with the first result of its idempotency key (``extensions.idempotentReplay``)."""
    denied: set[tuple[str, str]] = field(default_factory=set)
    """Fields already refused in this request: each is logged once, not per parent."""
    summary_mismatches: list[str] = field(default_factory=list)
    """In verify mode, statistics whose summaries differed from the raw rows (the raw rows' figures were served)."""
    record: RequestRecord = field(default_factory=RequestRecord)
    """What the request did, for its metrics and log line (``api.telemetry``)."""
    tracer: Any = None
    """The app's OpenTelemetry tracer for the operation's span (a no-op one when tracing is off)."""
    events: EventHub | None = None
    """The process's case event hub: set on websockets, where subscriptions run."""
    session: Session | None = None
    """The websocket's credential and subscriptions, once ``connection_init`` came."""
    loaders: Loaders = field(init=False)
    request_id: str = field(init=False)
    """See ``request_id``: the one the response's ``X-Request-ID`` names."""

    def __post_init__(self) -> None:
        # Per request: a loader shared between requests would leak data between viewers.
        self.loaders = Loaders(self.db, self.viewer)
        self.request_id = request_id(self.request)
