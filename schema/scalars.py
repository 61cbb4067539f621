"""Strawberry's Date, DateTime and Decimal, each naming the format it is written in.

``@specifiedBy(url:)`` lets a client generator or a reader of the SDL know the text format
without guessing from the name. The definitions are Strawberry's own (same parsing and
serialising, the output written by ``db.formats``, as the compiled path writes it), with the
URL added and a description that says the same:

- ``Date``: RFC 3339's ``full-date`` (``2020-06-01``).
- ``DateTime``: RFC 3339's ``date-time``, always with its offset (every column is
  ``timestamptz``): ``2020-06-01T10:30:00+08:00``.
- ``Decimal``: XML Schema's ``decimal`` lexical form, as a JSON string (``"399.00"``), so
  that no client reads a sum of yuan through a binary float. Read in that form only (a
  sign, ASCII digits, a point; white space around it collapsed, as its facet says), not in
  Python's wider one (``1_000``, other scripts' digits, ``1e3``, ``NaN``); a JSON number is
  taken as its value.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import re

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition, DecimalDefinition
from strawberry.types.scalar import ScalarDefinition

from db import formats

__all__ = ["DECIMAL_PATTERN", "SCALARS"]

RFC_3339 = "https://datatracker.ietf.org/doc/html/rfc3339#section-5.6"
XSD_DECIMAL = "https://www.w3.org/TR/xmlschema11-2/#decimal"
_XSD_DECIMAL = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", re.ASCII)
DECIMAL_PATTERN = rf"^[ \t\n\r]*{_XSD_DECIMAL.pattern}[ \t\n\r]*$"
"""The strings ``_decimal`` reads (white space around collapsed), as a JSON Schema (ECMA-262)
pattern: what the OpenAPI document publishes, so that a client checking its values against
it sends what is read."""


def _decimal(value: object) -> decimal.Decimal:
    """xs:decimal's lexical form; "cannot represent" codes the refusal BAD_USER_INPUT."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
        try:
            number = decimal.Decimal(text)
        except decimal.DecimalException:
            number = decimal.Decimal("NaN")
        if number.is_finite():
            return number
    elif isinstance(value, str) and _XSD_DECIMAL.fullmatch(text := value.strip(" \t\n\r")):
        return decimal.Decimal(text)
    raise StrawberryInputCoercionError(
        "Value cannot represent a Decimal: write an xs:decimal, digits with an optional sign and point (-1200.50)."
    )


def _instant(value: object) -> datetime.datetime:
    """An RFC 3339 ``date-time``: without its offset a local Shanghai time would be read as
    UTC, eight hours off; outside Python's years once in UTC it could not be stored. The
    reasons name no value (schema.errors cuts values from coercion errors) and say
    "cannot represent", which codes them BAD_USER_INPUT."""
    strawberrys = DateTimeDefinition.parse_value  # a clean error for what is no date-time at all
    assert strawberrys is not None
    parsed = strawberrys(value)
    assert isinstance(parsed, datetime.datetime)
    if parsed.tzinfo is None:
        raise StrawberryInputCoercionError(
            "Value cannot represent a DateTime without its offset, e.g. 2020-06-01T10:30:00+08:00."
        )
    try:
        parsed.astimezone(datetime.UTC)
    except OverflowError:
        raise StrawberryInputCoercionError(
            "Value cannot represent a DateTime outside the years 1 to 9999 in UTC."
        ) from None
    return parsed


SCALARS: dict[object, ScalarDefinition] = {
    datetime.date: dataclasses.replace(
        DateDefinition,
        description="A calendar date, RFC 3339 `full-date`: 2020-06-01.",
        specified_by_url=RFC_3339,
        serialize=formats.timestamp,
    ),
    datetime.datetime: dataclasses.replace(
        DateTimeDefinition,
        description="An instant, RFC 3339 `date-time` with its offset: 2020-06-01T10:30:00+08:00.",
        specified_by_url=RFC_3339,
        parse_value=_instant,
        serialize=formats.timestamp,
    ),
    decimal.Decimal: dataclasses.replace(
        DecimalDefinition,
        description='An exact decimal number as a string: "399.00" (never a binary float).',
        specified_by_url=XSD_DECIMAL,
        parse_value=_decimal,
        serialize=formats.decimal_text,
    ),
}
"""The schema's ``StrawberryConfig.scalar_map``."""
