"""The stream of case events, read by position (commit order; see migration 0012).

The listener of each service process reads *routes* (where each new event happened: its
kind, contact point and district) to decide which subscribers want it; each subscriber's
events are then read through the access layer with its viewer's row predicates and masks,
so an event a viewer may not see is never read for it, and its case comes as the viewer
may see it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import asyncpg

from .access import Viewer, row_predicates, select_list
from .errors import translate_errors
from .model import CASE, CASE_EVENT
from .pool import Executor
from .sql import Params, all_of

__all__ = [
    "CHANNEL",
    "KEY_CHANNEL",
    "EventFilter",
    "Listener",
    "Route",
    "StreamedEvent",
    "head_position",
    "listen",
    "routes_after",
    "streamed_events",
    "unusable_keys",
]

CHANNEL = "liaison_case_event"
"""What the position trigger notifies, with the new position as payload."""
KEY_CHANNEL = "liaison_api_key"
"""What a change of an API key's revocation or expiry notifies, with its public id."""


class Route(NamedTuple):
    position: int
    kind: str
    contact_point_code: str
    district_code: str


@dataclass(frozen=True)
class EventFilter:
    """Which events a subscriber asked for; an empty tuple means any."""

    district_codes: tuple[str, ...] = ()
    contact_point_codes: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()

    def wants(self, route: Route) -> bool:
        return (
            (not self.district_codes or route.district_code in self.district_codes)
            and (not self.contact_point_codes or route.contact_point_code in self.contact_point_codes)
            and (not self.kinds or route.kind in self.kinds)
        )


@dataclass(frozen=True, slots=True)
class StreamedEvent:
    position: int
    committed_at: datetime
    event: Any
    """A ``CASE_EVENT.record``."""
    case: Any
    """A ``CASE.record``, its confidential columns as the viewer may read them."""


_ROUTES = """
SELECT p.position, e.kind, c.code, c.district_code
  FROM case_event_position p
  JOIN case_event e ON e.id = p.event_id
  JOIN "case" k ON k.id = e.case_id
  JOIN contact_point c ON c.id = k.contact_point_id
 WHERE p.position > $1
 ORDER BY p.position
 LIMIT $2
"""


async def head_position(db: Executor) -> int:
    """The last position committed (0 before the first): where a new listener starts."""
    rows = await db.fetch("SELECT coalesce(max(position), 0) FROM case_event_position")
    return int(rows[0][0])


async def routes_after(db: Executor, position: int, limit: int) -> list[Route]:
    """Up to ``limit`` positions after ``position``, in order, with where their events happened."""
    return [Route(*row) for row in await db.fetch(_ROUTES, position, limit)]


async def streamed_events(
    db: Executor,
    viewer: Viewer,
    *,
    positions: Sequence[int] | None = None,
    after: int | None = None,
    wanted: EventFilter | None = None,
    limit: int = 1000,
) -> list[StreamedEvent]:
    """The events at ``positions``, or the first ``limit`` after ``after`` that ``wanted``
    holds for, in position order, each with its case: only those ``viewer`` may see."""
    params = Params()
    conditions = [all_of(row_predicates(CASE, viewer), params)]
    if positions is not None:
        conditions.append(f"p.position = ANY({params.add(list(positions), 'bigint[]')})")
    if after is not None:
        conditions.append(f"p.position > {params.add(after, 'bigint')}")
    if wanted is not None and wanted.kinds:
        conditions.append(f"e.kind = ANY({params.add(list(wanted.kinds), 'text[]')})")
    if wanted is not None and (wanted.district_codes or wanted.contact_point_codes):
        at_point = ["c.id = t.contact_point_id"]
        if wanted.district_codes:
            at_point.append(f"c.district_code = ANY({params.add(list(wanted.district_codes), 'text[]')})")
        if wanted.contact_point_codes:
            at_point.append(f"c.code = ANY({params.add(list(wanted.contact_point_codes), 'text[]')})")
        conditions.append(f"EXISTS (SELECT 1 FROM contact_point c WHERE {' AND '.join(at_point)})")
    case_columns = select_list(CASE, viewer, params)
    event_columns = CASE_EVENT.select_list("e")
    sql = (
        f"SELECT p.position, p.committed_at, {event_columns}, {case_columns}"
        ' FROM case_event_position p JOIN case_event e ON e.id = p.event_id JOIN "case" t ON t.id = e.case_id'
        f" WHERE {' AND '.join(conditions)} ORDER BY p.position LIMIT {params.add(limit, 'integer')}"
    )
    width = len(CASE_EVENT.columns)
    return [
        StreamedEvent(row[0], row[1], CASE_EVENT.record(*row[2 : 2 + width]), CASE.record(*row[2 + width :]))
        for row in await db.fetch(sql, *params.values)
    ]


async def unusable_keys(db: Executor, public_ids: Sequence[str]) -> set[str]:
    """Of these API keys, those revoked, expired or gone: their subscriptions must end."""
    rows = await db.fetch(
        "SELECT k FROM unnest($1::text[]) k WHERE NOT EXISTS (SELECT 1 FROM api_key a WHERE a.public_id = k"
        " AND a.revoked_at IS NULL AND (a.expires_at IS NULL OR a.expires_at > now()))",
        list(public_ids),
    )
    return {row[0] for row in rows}


class Listener:
    """The one connection of a process that LISTENs: new positions, and changed API keys."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.closing = False

    def terminate(self) -> None:
        self.closing = True
        self.conn.terminate()


async def listen(
    dsn: str,
    bound: float,
    on_position: Callable[[str], None],
    on_key: Callable[[str], None],
    on_lost: Callable[[], None],
) -> Listener:
    """A new listening connection, made within ``bound`` seconds: ``on_position`` and ``on_key`` get each notification's
    payload, ``on_lost`` is called if the connection ends other than by ``terminate``."""
    with translate_errors():
        async with asyncio.timeout(bound):
            conn = await asyncpg.connect(dsn, server_settings={"application_name": "liaison-graph listener"})
            listener = Listener(conn)
            await conn.add_listener(CHANNEL, lambda _c, _p, _ch, payload: on_position(payload))
            await conn.add_listener(KEY_CHANNEL, lambda _c, _p, _ch, payload: on_key(payload))
    conn.add_termination_listener(lambda _c: None if listener.closing else on_lost())
    return listener
