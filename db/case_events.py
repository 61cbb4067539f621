"""The stream of case events, read by position (commit order; see migration 0012).

The listener of each service process reads each batch of new positions in one statement:
per position its *route* (where the event happened: its kind, contact point and district,
which decide which subscribers want it) and, per access scope of its subscribers, the event
as that scope may see it, through the access layer (row predicates and masks), or NULL
where the scope may not see it or none of its subscribers can want it. A subscriber
catching up reads its own events the same way. An event a viewer may not see is never read for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

import asyncpg

from .access import Role, Viewer, column_sql, row_predicates, select_list
from .errors import translate_errors
from .model import CASE, CASE_EVENT
from .pool import Executor
from .sql import Params, all_of

__all__ = [
    "CHANNEL",
    "KEY_CHANNEL",
    "BatchRow",
    "EventFilter",
    "Listener",
    "Route",
    "Scope",
    "StreamedEvent",
    "batch_after",
    "head_position",
    "listen",
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

    def sql(self, params: Params) -> str:
        """The same condition over aliases ``e`` (the event) and ``c`` (its case's contact point)."""
        conditions = []
        if self.district_codes:
            conditions.append(f"c.district_code = ANY({params.add(list(self.district_codes), 'text[]')})")
        if self.contact_point_codes:
            conditions.append(f"c.code = ANY({params.add(list(self.contact_point_codes), 'text[]')})")
        if self.kinds:
            conditions.append(f"e.kind = ANY({params.add(list(self.kinds), 'text[]')})")
        return " AND ".join(conditions) or "true"


@dataclass(frozen=True, slots=True)
class StreamedEvent:
    position: int
    committed_at: datetime
    event: Any
    """A ``CASE_EVENT.record``."""
    case: Any
    """A ``CASE.record``, its confidential columns as the viewer may read them."""


@dataclass(frozen=True)
class Scope:
    """An access scope a batch is read for, and what its subscribers want (any of ``wanted``)."""

    viewer: Viewer
    wanted: Collection[EventFilter]


class BatchRow(NamedTuple):
    route: Route
    items: tuple[StreamedEvent | None, ...]
    """Per scope, in the order given: the event as that scope sees it, or None where it may
    not see it or none of that scope's subscribers can want it (the codes they ask for
    joined: the route says which of them does)."""


_JOINS = (
    ' JOIN case_event e ON e.id = p.event_id JOIN "case" t ON t.id = e.case_id'
    " JOIN contact_point c ON c.id = t.contact_point_id"
)
"""From positions ``p`` to the event ``e``, its case ``t`` and the case's contact point ``c``."""
_EVENT_WIDTH = len(CASE_EVENT.columns)
_CASE_WIDTH = len(CASE.columns)
_KIND = CASE_EVENT.columns.index("kind")


async def head_position(db: Executor) -> int:
    """The last position committed (0 before the first): where a new listener starts."""
    rows = await db.fetch("SELECT coalesce(max(position), 0) FROM case_event_position")
    return int(rows[0][0])


async def batch_after(db: Executor, position: int, limit: int, scopes: Sequence[Scope]) -> list[BatchRow]:
    """Up to ``limit`` positions after ``position``, in order, each with its route and its
    event as each of ``scopes`` may see it: one statement, however many scopes.

    The scopes are rows of one parameter (``s``: each one's codes, and what its subscribers
    want), read by one sub-select per role among them, so the statement's text depends on
    which roles subscribe only: it stays one prepared plan while subscribers come and go,
    within asyncpg's statement cache (15 KiB) however many scopes there are. (Spelt out
    per scope, the conditions and masks made it about 900 bytes longer per case officer's
    scope: beyond 16 of them, each batch was a text of its own, parsed and planned anew.)
    Each role reads only the case's columns it sees otherwise than as stored (its masks).
    What a scope's subscribers want is read as a superset (each condition's codes joined);
    ``EventFilter.wants`` picks each subscriber's events."""
    params = Params()
    present = {scope.viewer.role for scope in scopes}
    role_reads = [_role_read(role) for role in Role if role in present]
    listed = json.dumps([_scope_row(i, scope) for i, scope in enumerate(scopes)])
    scope_rows = (
        f"SELECT * FROM jsonb_to_recordset({params.add(listed, 'jsonb')})"
        f" AS s({', '.join(f'{name} {cast}' for name, cast in _SCOPE_COLUMNS)})"
    )
    batch = (
        "SELECT position, committed_at, event_id FROM case_event_position"
        f" WHERE position > {params.add(position, 'bigint')} ORDER BY position LIMIT {params.add(limit, 'integer')}"
    )
    reads = "".join(f", {read.sql}" for read in role_reads)
    sql = (
        f"WITH s AS MATERIALIZED ({scope_rows})"
        f" SELECT p.position, p.committed_at, c.code, c.district_code, {CASE_EVENT.select_list('e')},"
        f" {CASE.select_list('k')}{reads}"
        f' FROM ({batch}) p JOIN case_event e ON e.id = p.event_id JOIN "case" k ON k.id = e.case_id'
        " JOIN contact_point c ON c.id = k.contact_point_id ORDER BY p.position"
    )
    found = []
    for row in await db.fetch(sql, *params.values):
        event = CASE_EVENT.record(*row[4 : 4 + _EVENT_WIDTH])
        stored = row[4 + _EVENT_WIDTH : 4 + _EVENT_WIDTH + _CASE_WIDTH]
        items: list[StreamedEvent | None] = [None] * len(scopes)
        for role_read, reads_of_role in zip(role_reads, row[4 + _EVENT_WIDTH + _CASE_WIDTH :], strict=True):
            for read in reads_of_role or ():
                case = list(stored)
                for i, value in zip(role_read.own, read[1:], strict=True):
                    case[i] = value
                items[read[0]] = StreamedEvent(row[0], row[1], event, CASE.record(*case))
        found.append(BatchRow(Route(row[0], event[_KIND], row[2], row[3]), tuple(items)))
    return found


_VIEWER_CODES = ("region_codes", "district_codes", "contact_point_codes")
"""What a viewer's access depends on besides its role (``resolvers.case_events.access_scope``)."""
_WANTED = (
    ("wanted_districts", "district_codes", "c.district_code"),
    ("wanted_points", "contact_point_codes", "c.code"),
    ("wanted_kinds", "kinds", "e.kind"),
)
"""What a scope's subscribers want, per condition: its column of ``s``, the ``EventFilter``
field it joins, and the column of the route (aliases ``c`` and ``e``) it is about."""
_SCOPE_COLUMNS = (
    ("i", "integer"),
    ("role", "text"),
    *((name, "text[]") for name in _VIEWER_CODES),
    *((name, "text[]") for name, _, _ in _WANTED),
)


def _scope_row(i: int, scope: Scope) -> dict[str, Any]:
    """A scope as a row of ``s``: which it is, its viewer's role and codes, and the codes
    its subscribers want per condition (all of theirs joined, or any (NULL) if one of them
    sets none)."""
    row: dict[str, Any] = {"i": i, "role": scope.viewer.role.value}
    row.update((name, list(getattr(scope.viewer, name))) for name in _VIEWER_CODES)
    for name, field, _ in _WANTED:
        codes = [getattr(wanted, field) for wanted in scope.wanted]
        row[name] = sorted(set().union(*codes)) if all(codes) else None
    return row


class _RoleRead(NamedTuple):
    sql: str
    """Per event, the scopes of one role that see it and want it: an array of rows (the
    scope's number, then the ``own`` columns as it sees them), NULL if none."""
    own: list[int]
    """The case's columns (their indexes) the role reads otherwise than as stored."""


class _ScopeColumns(Params):
    """Renders the access layer's conditions and masks for a probe viewer whose codes name
    the columns of ``s`` they stand for: the same SQL, each scope's codes read from its row
    instead of being bound (and spelt out) one scope at a time."""

    def add(self, value: Any, cast: str | None = None) -> str:
        if value not in _PROBE_CODES:
            raise AssertionError(f"the access layer asks for a value other than a viewer's codes: {value!r}")
        return str(value[0])


_PROBE_CODES = {(f"s.{name}",) for name in _VIEWER_CODES}


@cache
def _role_read(role: Role) -> _RoleRead:
    probe = Viewer(
        role,
        region_codes=("s.region_codes",),
        district_codes=("s.district_codes",),
        contact_point_codes=("s.contact_point_codes",),
    )
    columns = _ScopeColumns()
    seen = all_of(row_predicates(CASE, probe), columns)
    masked = {c: column_sql(CASE, c, probe, columns) for c in CASE.columns}
    own = [i for i, c in enumerate(CASE.columns) if masked[c] != f't."{c}"']
    values = ", ".join(["s.i", *(masked[CASE.columns[i]] for i in own)])
    wanted = " AND ".join(f"(s.{name} IS NULL OR {column} = ANY(s.{name}))" for name, _, column in _WANTED)
    # A sub-select per role and row, not a CASE over the batch's rows: there the planner
    # hashed each EXISTS of the masks over every contact point (1-10 ms each, per batch).
    sql = (
        f'(SELECT array_agg(ROW({values}) ORDER BY s.i) FROM s JOIN "case" t ON t.id = k.id'
        f" WHERE s.role = '{role.value}' AND ({seen}) AND {wanted})"
    )
    return _RoleRead(sql, own)


async def streamed_events(
    db: Executor, viewer: Viewer, *, after: int, wanted: EventFilter, limit: int = 1000
) -> list[StreamedEvent]:
    """The first ``limit`` events after ``after`` that ``wanted`` holds for, in position
    order, each with its case: only those ``viewer`` may see (a subscriber catching up)."""
    params = Params()
    seen = all_of(row_predicates(CASE, viewer), params)
    condition = f"p.position > {params.add(after, 'bigint')} AND ({seen}) AND ({wanted.sql(params)})"
    sql = (
        f"SELECT p.position, p.committed_at, {CASE_EVENT.select_list('e')}, {select_list(CASE, viewer, params)}"
        f" FROM case_event_position p{_JOINS} WHERE {condition} ORDER BY p.position LIMIT {params.add(limit, 'integer')}"
    )
    return [
        StreamedEvent(
            row[0], row[1], CASE_EVENT.record(*row[2 : 2 + _EVENT_WIDTH]), CASE.record(*row[2 + _EVENT_WIDTH :])
        )
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
