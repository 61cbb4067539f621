"""The service's limits, as settings read once, and the budget that rate-limits callers.

Every limit has a setting, ``LIAISON_`` and its name in capitals, and a stable error code
(see the README's table). They are plain values here so the HTTP layer, the schema's checks
and the resolvers read one object from the request context.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from pydantic import ConfigDict, PositiveFloat, PositiveInt

from .environment import FromEnvironment

__all__ = ["Budget", "LimitSettings", "Spend"]


class LimitSettings(FromEnvironment):
    model_config = ConfigDict(alias_generator=lambda name: f"LIAISON_{name.upper()}")

    max_depth: PositiveInt = 15
    """Fields nested in one another (introspection fields not counted)."""
    max_aliases: PositiveInt = 50
    """Aliased fields in one document."""
    max_tokens: PositiveInt = 5000
    """Tokens (names, punctuation, values) the parser reads of one document."""
    max_page_size: PositiveInt = 100
    """The largest ``first``/``last`` of a connection."""
    max_cost: PositiveInt = 20_000
    """Points one operation may cost: the objects it can return, connections at their page size."""
    budget_points: PositiveInt = 1_000_000
    """Points a credential (or an anonymous client address) may spend per window."""
    budget_window: PositiveInt = 3600
    """Seconds; windows are aligned to the epoch, so all processes agree on the reset time."""
    max_body_bytes: PositiveInt = 102_400
    """Bytes of a request's body (413 PAYLOAD_TOO_LARGE beyond)."""
    max_import_bytes: PositiveInt = 256 * 1024 * 1024
    """Bytes of an upload to ``POST /imports`` (413 PAYLOAD_TOO_LARGE beyond): twice the
    100 MB the regulator's largest registers reach; it is spooled to disk, not memory."""
    max_export_rows: PositiveInt = 100_000
    """Rows of each list a saved query's CSV or XLSX export holds; beyond, the export is cut
    and says so (``X-Export-Truncated: true``)."""
    max_operations: PositiveInt = 10
    """Operations in one batched request (a JSON array)."""
    request_timeout: PositiveFloat = 15.0
    """Seconds a request may run; its SQL is cancelled with it (``statement_timeout``)."""
    anonymous_introspection: bool = True
    """Whether callers without a credential may introspect the schema."""
    max_concurrent_executions: PositiveInt = 8
    """Requests a process runs through Strawberry's pipeline at once, on /graphql and
    /queries/{name} alike; the rest queue (within their timeout). The compiled fast lane
    does not count: it holds no object graph."""
    shutdown_grace: PositiveFloat = 10.0
    """Seconds in-flight requests get to finish after SIGTERM before they are cancelled."""
    header_timeout: PositiveFloat = 10.0
    """Seconds a connection may take to send a request's headers (408 HEADERS_TIMEOUT)."""
    body_timeout: PositiveFloat = 10.0
    """Seconds a request may take to send its body, once its headers are in (408 BODY_TIMEOUT)."""
    max_connections: PositiveInt = 500
    """Connections a process holds at once; a request on one more is refused (503 TOO_MANY_CONNECTIONS)."""
    reopen_days: PositiveInt = 30
    """Days after closing within which a case officer may reopen a case."""
    backdate_days: PositiveInt = 90
    """Days back an intake's ``openedAt`` may lie (a paper form entered late); older history
    is an import's, not an intake's."""
    idempotency_hours: PositiveInt = 24
    """Hours an idempotency key keeps its first result; after that the key is free again."""
    key_purge_interval: PositiveFloat = 600.0
    """Seconds between two purges of expired idempotency keys."""
    max_subscriptions_per_connection: PositiveInt = 10
    """Subscriptions one websocket may hold at once (TOO_MANY_SUBSCRIPTIONS)."""
    max_subscriptions_per_credential: PositiveInt = 100
    """Subscriptions one credential may hold at once in a process, across its connections."""
    connection_init_timeout: PositiveFloat = 10.0
    """Seconds a websocket may take to send ``connection_init`` (closed with 4408)."""
    max_message_bytes: PositiveInt = 65_536
    """Bytes a websocket message from a client may hold (closed with 1009, message too big)."""
    subscription_recheck: PositiveFloat = 5.0
    """Seconds between checks that a subscriber's credential still holds (revoked keys: at once)."""
    subscription_queue: PositiveInt = 1000
    """Events waiting for one slow subscriber; past that it reads from the table instead."""


@dataclass(frozen=True)
class Spend:
    """What a charge against a budget left: for the ``X-RateLimit-*`` headers."""

    allowed: bool
    limit: int
    used: int
    reset_at: int
    """Epoch seconds at which the window ends."""

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)


class Budget(Protocol):
    async def charge(self, who: str, points: int) -> Spend:
        """Spend ``points`` of ``who``'s window if they fit; otherwise spend nothing."""
        ...
