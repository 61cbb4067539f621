"""What masks and statistics give away: a missing name stays missing, and a day's figures
stay with those who may read the day's cases.

Expected values come from SQL and masks written here, independently of ``db.access``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import asyncpg

from db import saved
from resolvers.stats import PUBLIC_PERIOD_DAYS
from schema.compiled import HEADER

from .support import bearer, service
from .test_access import HUANGPU, ZHEJIANG, codes, mask_name, mask_phone, post

PUDONG = "310115"

MASKED_VIEWERS: dict[str, dict[str, Any]] = {
    "internal": {},
    "admin": {},
    "case_officer": {"districts": [HUANGPU]},
}
"""Who reads the consumers of the cases below masked (the case officer works in Huangpu,
none of them is there), with the claims of its token."""


def masked(name: str | None, phone: str | None) -> dict[str, str | None]:
    """The masks as the README words them; no name or no number stays null."""
    return {
        "consumerName": None if name is None else mask_name(name),
        "consumerPhone": None if phone is None else mask_phone(phone),
    }


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
    # Test data made around the lifecycle guard, which refuses any change to a closed case.
    async with conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
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
    expected = {number: masked(name, phone) for number, name, phone in rows}
    names = [e["consumerName"] for e in expected.values()]
    assert None in names and "*" in names and any(n and len(n) == 2 for n in names)
    listing = '{ contactPoint(code: "%s") { cases(first: 100) { nodes { number consumerName consumerPhone } } } }'
    lookup = '{ case(number: "%s") { consumerName consumerPhone } }'
    with service(db_dsn, role=None) as client:
        for viewer, claims in MASKED_VIEWERS.items():
            headers = bearer(viewer, **claims)
            # The DataLoader path and the compiled one, compared byte for byte in verify mode.
            response = client.post("/graphql", json={"query": listing % code}, headers=headers)
            assert response.status_code == 200, response.text
            assert response.headers[HEADER] == "verified", viewer
            nodes = response.json()["data"]["contactPoint"]["cases"]["nodes"]
            found = {n.pop("number"): n for n in nodes}
            assert found == expected, viewer
            for number in (n for n, name, _ in rows if name is None or len(name) == 1):
                response = client.post("/graphql", json={"query": lookup % number}, headers=headers)
                assert response.headers[HEADER] == "verified", viewer
                assert response.json()["data"]["case"] == expected[number], (viewer, number)


CASE_STATS = '{ district(code: "%s") { stats { cases(period: {from: "%s", before: "%s"}) { total } } } }'
RETURN_FLOWS = '{ district(code: "%s") { stats { crossStoreReturns(period: {from: "%s", before: "%s"}) { count } } } }'


async def _opened_in_pudong(conn: asyncpg.Connection, start: date, before: date) -> int:
    """Cases opened at Pudong's contact points in [start, before), Shanghai days."""
    return await conn.fetchval(
        'SELECT count(*) FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id WHERE p.district_code = $1'
        " AND (c.opened_at AT TIME ZONE 'Asia/Shanghai')::date >= $2"
        " AND (c.opened_at AT TIME ZONE 'Asia/Shanghai')::date < $3",
        PUDONG,
        start,
        before,
    )


PUDONG_DAYS = """query PudongDays($from: Date!, $before: Date!) {
  district(code: "310115") { stats { cases(period: {from: $from, before: $before}) { total } } }
}"""


async def test_a_partner_gets_figures_of_cases_it_cannot_read_only_over_four_weeks(db_dsn: str) -> None:
    day = date(2020, 6, 1)
    next_day, four_weeks = day + timedelta(days=1), day + timedelta(days=PUBLIC_PERIOD_DAYS)
    conn = await asyncpg.connect(db_dsn)
    try:
        one_day, month = await _opened_in_pudong(conn, day, next_day), await _opened_in_pudong(conn, day, four_weeks)
        await saved.save(conn, "PudongDays", PUDONG_DAYS, "PudongDays", "tests")
    finally:
        await conn.close()
    assert 0 < one_day < month
    partner, internal = bearer("partner", regions=[ZHEJIANG]), bearer("internal")
    with service(db_dsn, role=None) as client:
        for query in (CASE_STATS, RETURN_FLOWS):
            short = query % (PUDONG, day, next_day)
            refused = post(client, short)
            assert codes(refused) == ["BAD_USER_INPUT"], query
            answer = post(client, short, partner)
            assert (answer["data"], answer.get("errors")) == (refused["data"], refused["errors"]), query
            assert codes(post(client, short, internal)) == [], query
            assert codes(post(client, query % (PUDONG, day, four_weeks), partner)) == [], query

        def total(headers: dict[str, str], start: date, before: date) -> Any:
            return post(client, CASE_STATS % (PUDONG, start, before), headers)["data"]["district"]["stats"]

        assert total(partner, day, four_weeks) == {"cases": {"total": month}}
        assert total(internal, day, next_day) == {"cases": {"total": one_day}}
        # The same through a saved query, which internal tools run compiled ahead.
        asked = {"from": day.isoformat(), "before": next_day.isoformat()}
        ran = client.get("/queries/PudongDays", params=asked, headers=partner).json()
        assert codes(ran) == ["BAD_USER_INPUT"] and "total" not in str(ran["data"])
        ran = client.get("/queries/PudongDays", params=asked, headers=internal).json()
        assert ran["data"]["district"]["stats"] == {"cases": {"total": one_day}}
