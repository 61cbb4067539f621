"""Work the service does on its own between requests: purging expired idempotency keys."""

from __future__ import annotations

import asyncio
import logging

from db.cases_write import purge_expired_keys
from db.errors import DatabaseUnavailable
from db.pool import Database

__all__ = ["purge_keys_forever"]

log = logging.getLogger(__name__)


async def purge_keys_forever(db: Database, every: float) -> None:
    """Every ``every`` seconds, delete the expired idempotency keys (Stripe keeps its keys
    24 hours, then forgets them). Several processes may purge at once: a key is deleted once,
    and a database away for a while only delays the purge."""
    while True:
        await asyncio.sleep(every)
        try:
            async with db.connection() as conn:
                purged = await purge_expired_keys(conn)
        except DatabaseUnavailable:
            continue
        if purged:
            log.info("purged %d expired idempotency keys", purged)
