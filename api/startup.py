"""What runs before the first request: migrations, then demo data into an empty database."""

from __future__ import annotations

import logging
import time

import asyncpg

from db.demo import DemoConflict, load_demo
from db.errors import translate_errors
from db.migrate import migrate

__all__ = ["prepare_database"]

log = logging.getLogger(__name__)


async def prepare_database(dsn: str, *, demo: bool) -> None:
    applied = await migrate(dsn)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    if not demo:
        return
    with translate_errors():
        conn = await asyncpg.connect(dsn)
    try:
        started = time.monotonic()
        if await load_demo(conn):
            log.info("loaded the demo data in %.1fs", time.monotonic() - started)
    except DemoConflict as exc:
        log.warning("demo data not loaded: %s", exc)
    finally:
        await conn.close()
