"""The asyncpg pool every request borrows from."""

from __future__ import annotations

import asyncpg

from .errors import translate_errors

__all__ = ["open_pool", "ping"]


async def open_pool(dsn: str, *, max_size: int, timeout: float) -> asyncpg.Pool:
    """A pool whose every wait is bounded by ``timeout`` seconds.

    ``min_size=0`` lets the pool start and keep serving health checks while the
    database is away; connections are made again on demand once it is back.
    """
    with translate_errors():
        return await asyncpg.create_pool(
            dsn,
            min_size=0,
            max_size=max_size,
            timeout=timeout,  # connect
            command_timeout=timeout,
            max_inactive_connection_lifetime=60,
            server_settings={"application_name": "liaison-graph", "timezone": "UTC"},
        )


async def ping(pool: asyncpg.Pool, timeout: float) -> None:
    """Raise ``DatabaseUnavailable`` unless the database answers within ``timeout``."""
    with translate_errors():
        async with pool.acquire(timeout=timeout) as conn:
            await conn.fetchval("SELECT 1", timeout=timeout)
