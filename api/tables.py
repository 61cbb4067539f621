"""A GraphQL result as a table, for exports: the list in it, one row per item, dotted columns.

The list is the first one met in the data, depth first (a connection's ``nodes``, or its
``edges`` with their ``node``). Nested objects become dotted columns
(``district.region.name``); a list inside an item becomes its JSON text.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

__all__ = ["NoList", "to_csv"]


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class NoList(Exception):
    """The result holds no list to turn into rows."""


def _first_list(value: Any) -> list[Any] | None:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        for child in value.values():
            found = _first_list(child)
            if found is not None:
                return found
    return None


def _flatten(item: Any, prefix: str, row: dict[str, Any]) -> None:
    if isinstance(item, dict):
        for key, value in item.items():
            _flatten(value, f"{prefix}{key}.", row)
    elif isinstance(item, list):
        row[prefix[:-1]] = json.dumps(item, ensure_ascii=False, separators=(",", ":"))
    elif isinstance(item, bool):
        row[prefix[:-1]] = "true" if item else "false"  # as in the JSON, not Python's True
    elif isinstance(item, str) and item.startswith(_FORMULA):
        row[prefix[:-1]] = "'" + item  # never a formula when the sheet opens (CSV injection)
    else:
        row[prefix[:-1]] = "" if item is None else item


def to_csv(data: Any) -> str:
    """CSV text with a BOM (so spreadsheets read the Chinese as UTF-8) and CRLF line ends."""
    items = _first_list(data)
    if items is None:
        raise NoList("The result holds no list to export as rows.")
    rows: list[dict[str, Any]] = []
    for item in items:
        row: dict[str, Any] = {}
        _flatten(
            item.get("node", item) if isinstance(item, dict) and set(item) <= {"node", "cursor"} else item, "", row
        )
        rows.append(row)
    columns = list(dict.fromkeys(column for row in rows for column in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()
