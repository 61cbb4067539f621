"""What runs before the first request: migrations, then demo data into an empty database."""

from __future__ import annotations

import logging

from db.migrate import migrate

__all__ = ["prepare_database"]

log = logging.getLogger(__name__)


async def prepare_database(dsn: str, *, load_demo: bool) -> None:
    applied = await migrate(dsn)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
