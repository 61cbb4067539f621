"""Each format of ``db.formats`` written by PostgreSQL (the compiled path) and by Python (the
generic path) for the same values: the two texts must be the same, byte for byte."""

from __future__ import annotations

import datetime as dt
import decimal
from typing import Any

import asyncpg

from db import formats

EIGHT = dt.timezone(dt.timedelta(hours=8))
MOMENTS = [
    dt.datetime(2020, 6, 1, 2, 30, tzinfo=dt.UTC),
    dt.datetime(2020, 6, 1, 2, 30, 0, 1, tzinfo=dt.UTC),
    dt.datetime(2020, 6, 1, 10, 30, 0, 500000, tzinfo=EIGHT),
    dt.datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=EIGHT),
    dt.datetime(2024, 2, 29, 0, 0, 0, 120, tzinfo=dt.UTC),
]
DATES = [dt.date(2020, 6, 1), dt.date(1999, 12, 31), dt.date(2024, 2, 29)]
DECIMALS = [decimal.Decimal(d) for d in ("399.00", "0", "0.00", "-1.50", "12345678901.23", "1E+3", "0.1")]
TEXTS = ["CP310115-00001", '浦东 "新区" \\ /+=', "a\nb\tc", "é"]


async def test_timestamps(conn: asyncpg.Connection) -> None:
    for moment in MOMENTS:
        read, written = await conn.fetchrow(
            f"SELECT $1::timestamptz, {formats.timestamp_sql('$1::timestamptz')}", moment
        )
        assert written == formats.timestamp(read), moment
    assert await conn.fetchval(f"SELECT {formats.timestamp_sql('NULL::timestamptz')}") is None


async def test_decimals(conn: asyncpg.Connection) -> None:
    for number in DECIMALS:
        read, written = await conn.fetchrow(f"SELECT $1::numeric, {formats.decimal_sql('$1::numeric')}", number)
        assert written == formats.decimal_text(read), number


CURSOR_VALUES: list[tuple[str, Any]] = [
    *(("timestamptz", m) for m in MOMENTS),
    *(("date", d) for d in DATES),
    *(("text", t) for t in TEXTS),
    *(("bigint", n) for n in (0, 5000, -7, 2**62)),
]


async def test_cursors(conn: asyncpg.Connection) -> None:
    for cast, value in CURSOR_VALUES:
        name = f"sorted by {cast}: “{cast}”"
        sql = formats.cursor_sql("$1::text", formats.cursor_value_sql(f"$2::{cast}", cast), "$3::bigint")
        read, written = await conn.fetchrow(f"SELECT $2::{cast}, {sql}", name, value, 987654321)
        assert written == formats.cursor(name, read, 987654321), (cast, value)
