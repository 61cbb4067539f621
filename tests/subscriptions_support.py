"""What the subscription tests share: the subscription document, the stream's head."""

from __future__ import annotations

import asyncpg

CASE_EVENTS = """subscription ($filter: CaseEventStreamFilter) {
  caseEvents(filter: $filter) {
    cursor
    event { kind status actorRole }
    case { number status consumerName consumerPhone contactPoint { code } }
  }
}"""


async def head(dsn: str) -> str:
    """The cursor of the last event committed: subscribing after it, a test misses no event
    it writes, however long the subscription takes to start."""
    conn = await asyncpg.connect(dsn)
    try:
        return str(await conn.fetchval("SELECT coalesce(max(position), 0) FROM case_event_position"))
    finally:
        await conn.close()
