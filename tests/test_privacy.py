"""What masks give away: a missing name stays missing.

Expected values come from SQL and masks written here, independently of ``db.access``.
"""

from __future__ import annotations

import asyncpg

from schema.compiled import HEADER

from .support import bearer, service

HUANGPU = "310101"
PUDONG = "310115"

MASKED_VIEWERS = {
    "internal": bearer("internal"),
    "admin": bearer("admin"),
    "case officer elsewhere": bearer("case_officer", districts=[HUANGPU]),
}
"""Who reads the consumers of the cases below masked: none of them is in Huangpu."""


def expected_mask(value: str | None, keep: int, tail: int = 0) -> str | None:
    if value is None:
        return None
    if tail:
        return value[:keep] + "****" + value[-tail:]
    return value[0] + "*" if len(value) > 1 else "*"


async def _point_with_every_kind_of_name(conn: asyncpg.Connection) -> str:
    """A contact point outside Huangpu with cases of no name (with and without a phone), a
    one-character name (made here: the demo has none) and longer names."""
    code: str = await conn.fetchval(
        'SELECT p.code FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id'
        " WHERE p.district_code <> $1 GROUP BY p.code"
        " HAVING count(*) FILTER (WHERE c.consumer_name IS NULL AND c.consumer_phone IS NULL) > 0"
        " AND count(*) FILTER (WHERE c.consumer_name IS NULL AND c.consumer_phone IS NOT NULL) > 0"
        " AND count(*) FILTER (WHERE char_length(c.consumer_name) = 2) > 0"
        " AND count(*) FILTER (WHERE char_length(c.consumer_name) = 3) > 1"
        " AND count(*) <= 50 ORDER BY p.code LIMIT 1",
        HUANGPU,
    )
    await conn.execute(
        'UPDATE "case" SET consumer_name = \'李\' WHERE id = (SELECT min(c.id) FROM "case" c'
        " JOIN contact_point p ON p.id = c.contact_point_id WHERE p.code = $1 AND char_length(c.consumer_name) = 3)",
        code,
    )
    return code


async def test_a_missing_name_or_phone_stays_null_under_every_mask(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        code = await _point_with_every_kind_of_name(conn)
        rows = await conn.fetch(
            'SELECT c.number, c.consumer_name, c.consumer_phone FROM "case" c'
            " JOIN contact_point p ON p.id = c.contact_point_id WHERE p.code = $1",
            code,
        )
    finally:
        await conn.close()
    expected = {
        number: {"consumerName": expected_mask(name, 1), "consumerPhone": expected_mask(phone, 3, 4)}
        for number, name, phone in rows
    }
    names = [e["consumerName"] for e in expected.values()]
    assert None in names and "*" in names and any(n and len(n) == 2 for n in names)
    listing = '{ contactPoint(code: "%s") { cases(first: 100) { nodes { number consumerName consumerPhone } } } }'
    lookup = '{ case(number: "%s") { consumerName consumerPhone } }'
    with service(db_dsn, role=None) as client:
        for viewer, headers in MASKED_VIEWERS.items():
            # The DataLoader path and the compiled one, compared byte for byte in verify mode.
            response = client.post("/graphql", json={"query": listing % code}, headers=headers)
            assert response.headers[HEADER] == "verified", viewer
            nodes = response.json()["data"]["contactPoint"]["cases"]["nodes"]
            found = {n.pop("number"): n for n in nodes}
            assert found == expected, viewer
            for number in (n for n, name, _ in rows if name is None or len(name) == 1):
                response = client.post("/graphql", json={"query": lookup % number}, headers=headers)
                assert response.headers[HEADER] == "verified", viewer
                assert response.json()["data"]["case"] == expected[number], (viewer, number)
