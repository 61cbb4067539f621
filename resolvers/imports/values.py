"""Cell values as the regulator's spreadsheets hold them, made into the model's values.

Each parser takes a cell (text from CSV; text, a number, a date or a datetime from XLSX)
and returns the value, or raises ``Invalid`` with a reason a person can act on. Codes,
numbers, dates and phones are NFKC-normalized first, so full-width digits (２０２０) and
letters (ＣＰ) read as their ASCII forms; names and addresses are kept as written.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

__all__ = [
    "SHANGHAI",
    "Invalid",
    "Parser",
    "amount",
    "choice",
    "code",
    "date",
    "flag",
    "integer",
    "mobile_phone",
    "moment",
    "text",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")
EXCEL_EPOCH = datetime.date(1899, 12, 30)
"""Day 0 of Excel's serial dates (1900 system, past its leap-year bug)."""

Parser = Callable[[Any], Any]


class Invalid(ValueError):
    """A cell the model cannot take; the message says why, never echoing personal data."""


def _plain(value: Any) -> str:
    """NFKC text without spaces: full-width digits and letters become ASCII."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))


def text(value: Any) -> str:
    """Text as written, trimmed; inner runs of white space become one space."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def code(pattern: str, example: str) -> Parser:
    """A code in the shape of ``pattern`` (upper-cased, full-width folded)."""
    shape = re.compile(pattern)

    def parse(value: Any) -> str:
        found = _plain(text(value)).upper()
        if not shape.fullmatch(found):
            raise Invalid(f"{found!r} is not a code like {example}")
        return found

    return parse


def choice(labels: Mapping[str, str], what: str) -> Parser:
    """One of the model's values, by its Chinese label, its English one or the value itself."""
    folded = {_plain(k).lower(): v for k, v in labels.items()}
    folded.update({v.lower(): v for v in labels.values()})

    def parse(value: Any) -> str:
        found = folded.get(_plain(text(value)).lower())
        if found is None:
            known = "、".join(dict.fromkeys(k for k in labels if not k.isascii()))
            raise Invalid(f"{text(value)!r} is not a {what} ({known})")
        return found

    return parse


_TRUE = {"是", "有", "y", "yes", "true", "1", "√", "✓"}
_FALSE = {"否", "无", "n", "no", "false", "0", "×", "✗"}


def flag(value: Any) -> bool:
    folded = _plain(value).lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise Invalid(f"{text(value)!r} is not yes or no (是/否)")


def integer(value: Any) -> int:
    if isinstance(value, bool):
        raise Invalid("not a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    folded = _plain(value)
    if not re.fullmatch(r"[0-9]{1,9}", folded):
        raise Invalid(f"{text(value)!r} is not a whole number")
    return int(folded)


_AMOUNT = re.compile(r"¥?((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)元?")
"""Digits (thousands grouped by commas, or not at all) and a point: no sign, exponent or ``_``."""


def amount(value: Any) -> Decimal:
    """Yuan with at most two decimals, not negative: a plain decimal, with ``¥``, ``元`` and
    thousands separators (``1,200.50``) allowed; a CSV cell holding a comma must be quoted."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        folded = repr(value) if isinstance(value, float) else str(value)
    else:
        found = _AMOUNT.fullmatch(_plain(value))
        if found is None:
            raise Invalid(f"{text(value)!r} is not an amount in yuan (a decimal such as 1200.50 or ¥1,200.50)")
        folded = found.group(1).replace(",", "")
    try:
        number = Decimal(folded)
    except InvalidOperation:
        raise Invalid(f"{text(value)!r} is not an amount in yuan") from None
    if not number.is_finite() or number < 0 or number != number.quantize(Decimal("0.01")) or number >= 10**10:
        raise Invalid(f"{text(value)!r} is not an amount in yuan (0 or more, at most two decimals)")
    return number.quantize(Decimal("0.01"))


_DATE = re.compile(r"([0-9]{4})(?:年|[-/.])([0-9]{1,2})(?:月|[-/.])([0-9]{1,2})日?")
_TIME = re.compile(r"([0-9]{1,2})[:时]([0-9]{1,2})(?:[:分]([0-9]{1,2})秒?)?")


def _serial(number: float) -> datetime.datetime:
    if not 1 <= number < 2_958_466:  # Excel's own range: 1900-01-01 to 9999-12-31
        raise Invalid(f"{number:g} is not a date (as an Excel serial number it is out of range)")
    return datetime.datetime.combine(EXCEL_EPOCH, datetime.time()) + datetime.timedelta(days=number)


def _moment(value: Any) -> tuple[datetime.datetime, bool]:
    """A naive date and time, and whether a time of day was given."""
    if isinstance(value, datetime.datetime):
        return value, True
    if isinstance(value, datetime.date):
        return datetime.datetime.combine(value, datetime.time()), False
    if isinstance(value, int | float) and not isinstance(value, bool):
        found = _serial(value)
        return found, found.time() != datetime.time()
    folded = unicodedata.normalize("NFKC", str(value)).strip()
    if re.fullmatch(r"[0-9]{5}(\.[0-9]+)?", folded):
        found = _serial(float(folded))
        return found, found.time() != datetime.time()
    if re.fullmatch(r"[0-9]{8}", folded):
        folded = f"{folded[:4]}-{folded[4:6]}-{folded[6:]}"
    day = _DATE.match(folded)
    rest = folded[day.end() :].strip().lstrip("T") if day else ""
    clock = _TIME.fullmatch(rest) if rest else None
    if day is None or (rest and clock is None):
        raise Invalid(f"{folded!r} is not a date (2020-09-28, 2020/9/28 or 2020年9月28日)")
    try:
        year, month, of_month = (int(p) for p in day.groups())
        hour, minute, second = (int(p or 0) for p in clock.groups()) if clock else (0, 0, 0)
        return datetime.datetime(year, month, of_month, hour, minute, second), clock is not None
    except ValueError:
        raise Invalid(f"{folded!r} is not a date of the calendar") from None


def date(value: Any) -> datetime.date:
    """A day: ``2020-09-28``, ``2020/9/28``, ``2020年9月28日``, ``20200928``, an Excel date or serial."""
    found, _ = _moment(value)
    return found.date()


def moment(value: Any) -> datetime.datetime:
    """A point in time, Shanghai time unless the cell says otherwise; a day alone is its midnight."""
    found, _ = _moment(value)
    return found.replace(tzinfo=SHANGHAI) if found.tzinfo is None else found


def mobile_phone(value: Any) -> str:
    """A mainland mobile number: 11 digits from 13 to 19; spaces, dashes and +86 allowed."""
    folded = re.sub(r"[\s\-()]", "", unicodedata.normalize("NFKC", text(value)))
    folded = re.sub(r"^(\+?86)(?=1[0-9]{10}$)", "", folded)
    if not re.fullmatch(r"1[3-9][0-9]{9}", folded):
        raise Invalid("not a mobile number: 11 digits starting 13 to 19")
    return folded
