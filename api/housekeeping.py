"""Work the service does on its own between requests: purging expired idempotency keys."""

from __future__ import annotations

import asyncio
import logging
import random

from db.cases_write import purge_expired_keys
from db.errors import DatabaseUnavailable
from db.pool import Database

__all__ = ["purge_keys_forever"]

log = logging.getLogger(__name__)


async def purge_keys_forever(db: Database, every: float) -> None:
    """Delete the expired idempotency keys at start and then every ``every`` seconds
    (Stripe keeps its keys 24 hours, then forgets them). The first purge waits a random
    part of a second, so processes started together spread out; several purging at once
    delete each key once. A failed purge is logged and the next one tried: the task never
    ends before the service does."""
    await asyncio.sleep(random.uniform(0, min(every, 1.0)))  # noqa: S311 (spreading, not secrecy)
    while True:
        try:
            purged = await purge_expired_keys(db)
        except DatabaseUnavailable:
            pass  # the database is away: the next purge catches up
        except Exception:
            log.exception("purging expired idempotency keys failed; trying again in %gs", every)
        else:
            if purged:
                log.info("purged %d expired idempotency keys", purged)
        await asyncio.sleep(every)
