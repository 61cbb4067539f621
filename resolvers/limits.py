"""The service's limits, as settings read once, and the budget that rate-limits callers.

Every limit has a setting and a stable error code (see the README's table). They are
plain values here so the HTTP layer, the schema's checks and the resolvers read one
object from the request context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Budget", "Limits", "Spend"]


@dataclass(frozen=True)
class Limits:
    max_depth: int = 15
    """Fields nested in one another (introspection fields not counted)."""
    max_aliases: int = 50
    max_tokens: int = 5000
    max_page_size: int = 100
    """The largest ``first``/``last`` of a connection."""
    max_cost: int = 20_000
    """Points one operation may cost: the objects it can return, connections at their page size."""
    budget_points: int = 1_000_000
    """Points a credential (or an anonymous client address) may spend per window."""
    budget_window: int = 3600
    """Seconds; windows are aligned to the epoch, so all processes agree on the reset time."""
    max_body_bytes: int = 102_400
    max_operations: int = 10
    """Operations in one batched request (a JSON array)."""
    request_timeout: float = 15.0
    """Seconds a request may run; its SQL is cancelled with it (``statement_timeout``)."""
    anonymous_introspection: bool = True
    max_concurrent_executions: int = 8
    """Requests a process runs through Strawberry's pipeline at once, on /graphql and
    /queries/{name} alike; the rest queue (within their timeout). The compiled fast lane
    does not count: it holds no object graph."""
    shutdown_grace: float = 10.0
    """Seconds in-flight requests get to finish after SIGTERM before they are cancelled."""
    header_timeout: float = 10.0
    """Seconds a connection may take to send a request's headers (408 HEADERS_TIMEOUT)."""
    body_timeout: float = 10.0
    """Seconds a request may take to send its body, once its headers are in (408 BODY_TIMEOUT)."""
    max_connections: int = 500
    """Connections a process holds at once; a request on one more is refused (503 TOO_MANY_CONNECTIONS)."""
    reopen_days: int = 30
    """Days after closing within which a case officer may reopen a case."""
    idempotency_hours: int = 24
    """Hours an idempotency key keeps its first result; after that the key is free again."""
    max_subscriptions_per_connection: int = 10
    """Subscriptions one websocket may hold at once (TOO_MANY_SUBSCRIPTIONS)."""
    max_subscriptions_per_credential: int = 100
    """Subscriptions one credential may hold at once in a process, across its connections."""
    connection_init_timeout: float = 10.0
    """Seconds a websocket may take to send ``connection_init`` (closed with 4408)."""
    max_message_bytes: int = 65_536
    """Bytes a websocket message from a client may hold (closed with 1009, message too big)."""
    subscription_recheck: float = 5.0
    """Seconds between checks that a subscriber's credential still holds (revoked keys: at once)."""
    subscription_queue: int = 1000
    """Events waiting for one slow subscriber; past that it reads from the table instead."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        found = {}
        for name, value in cls().__dict__.items():
            raw = env.get(f"LIAISON_{name.upper()}")
            if raw is None or raw.strip() == "":
                continue
            if isinstance(value, bool):
                found[name] = raw.strip().lower() not in ("0", "false", "no", "off")
                continue
            number = type(value)(raw)
            if number <= 0:
                raise ValueError(f"LIAISON_{name.upper()} must be positive; got {raw!r}")
            found[name] = number
        return cls(**found)


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
