"""/queries/{name} meets a database fault as /graphql does: 503, a code, a request id, Retry-After.

The saved-query lookup is made slow for real: another session holds a lock on
``saved_operation``, so the lookup's SELECT waits inside PostgreSQL until the database
bound (LIAISON_DB_TIMEOUT) gives up on it.
"""

from __future__ import annotations

import asyncio

import asyncpg

from db import saved

from .support import service

REGIONS = "query RegionCodes { regions { code } }"


async def test_a_database_fault_in_the_lookup_is_a_coded_503(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        await saved.save(conn, "RegionCodes", REGIONS, "RegionCodes", "tests")
        with service(db_dsn, role=None, LIAISON_DB_TIMEOUT="1") as client:
            assert client.get("/queries/RegionCodes").status_code == 200
            async with conn.transaction():
                await conn.execute("LOCK TABLE saved_operation IN ACCESS EXCLUSIVE MODE")
                response = await asyncio.to_thread(
                    client.get, "/queries/RegionCodes", headers={"X-Request-ID": "lookup-fault-1"}
                )
        assert response.status_code == 503, response.text
        [error] = response.json()["errors"]
        assert error["extensions"] == {"code": "DATABASE_UNAVAILABLE", "requestId": "lookup-fault-1"}
        assert response.headers["X-Request-ID"] == "lookup-fault-1"
        assert response.headers["Retry-After"] == "5"
    finally:
        await conn.close()
