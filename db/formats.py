"""How values are written in responses and cursors: each format once, as the Python the
generic path runs next to the SQL the compiled path renders, so that the two cannot drift
(``tests/test_formats.py`` holds each pair to the same text on PostgreSQL).

- Timestamps: Python's ``datetime.isoformat`` of the UTC instant (``2020-06-01T02:30:00+00:00``,
  microseconds only when not zero); dates ``YYYY-MM-DD``.
- Decimals: their text (``"399.00"``), never a binary float.
- Cursors: unpadded base64url of the compact JSON array [order name, sort value as text, id as
  text], the sort value written as above.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
from typing import Any

__all__ = [
    "cursor",
    "cursor_sql",
    "cursor_value_sql",
    "decimal_sql",
    "decimal_text",
    "read_cursor",
    "timestamp",
    "timestamp_sql",
]


def timestamp(moment: datetime.date) -> str:
    """A timestamp (as read from a ``timestamptz``, in UTC) or a date, as responses write it."""
    return moment.isoformat()


def timestamp_sql(value: str) -> str:
    """``timestamp`` in SQL, for the ``timestamptz`` expression ``value``."""
    # One to_char, the zero fraction dropped after: a third cheaper per value than asking
    # extract whether there is one (bench/RESULTS.md, "Timestamps in one to_char").
    return f"replace(to_char(({value}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"'), '.000000+', '+')"


def decimal_text(value: decimal.Decimal) -> str:
    """A decimal as responses write it."""
    return str(value)


def decimal_sql(value: str) -> str:
    """``decimal_text`` in SQL, for the ``numeric`` expression ``value``."""
    return f"({value})::text"


def cursor(name: str, value: object, row_id: object) -> str:
    """The cursor of a row at sort ``value`` with id ``row_id`` in the order ``name``."""
    text = timestamp(value) if isinstance(value, datetime.date) else str(value)
    raw = json.dumps([name, text, str(row_id)], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_value_sql(column: str, cast: str) -> str:
    """A sort value of SQL type ``cast`` as ``cursor`` writes it."""
    if cast == "timestamptz":
        return timestamp_sql(column)
    if cast == "date":
        return f"to_char({column}, 'YYYY-MM-DD')"
    return f"{column}::text"


def cursor_sql(name: str, value: str, row_id: str) -> str:
    """``cursor`` in SQL: ``name`` a text parameter, ``value`` from ``cursor_value_sql``, ``row_id`` a column."""
    raw = (
        f"'[' || to_json({name})::text || ',' || to_json({value})::text || ',' || to_json({row_id}::text)::text || ']'"
    )
    return f"rtrim(translate(encode(convert_to({raw}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"


def read_cursor(text: str) -> Any:
    """The JSON a cursor holds (raises ``ValueError``, ``TypeError`` or ``binascii.Error`` when
    it is no cursor); the caller checks its shape and parses its values."""
    return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
