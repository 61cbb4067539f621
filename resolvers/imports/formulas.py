"""Formulas Excel never computed, found in a worksheet's XML.

openpyxl's read-only mode reads the value Excel saved with each formula. A file written by
a program that does not calculate (openpyxl itself, many exporters) holds formulas without
one, which would read as empty cells: a required column would be "empty", an optional one
silently taken as not given. One pass over the sheet's XML, in chunks, finds them, so the
row is rejected for what it is.
"""

from __future__ import annotations

import html
import re
from typing import IO

from openpyxl.utils import column_index_from_string

from .errors import ImportRefused

__all__ = ["MAX_UNCOMPUTED", "uncomputed_formulas"]

MAX_UNCOMPUTED = 10_000
_CELL_END = b"</c>"
_CARRIED = 1 << 20
_UNCOMPUTED = re.compile(
    rb'<c r="([A-Z]{1,3})([0-9]+)"[^>]*>\s*<f\b[^>]*?(?:/>|>([^<]*)</f>)\s*(?:<v\s*/>|<v>\s*</v>)?\s*</c>'
)


def uncomputed_formulas(xml: IO[bytes], chunk: int = 1 << 20) -> dict[tuple[int, int], str]:
    """(row, column from 1) → the formula's text, of each formula cell without a value."""
    found: dict[tuple[int, int], str] = {}
    carry = b""
    while data := xml.read(chunk):
        data = carry + data
        end = data.rfind(_CELL_END)
        if end < 0:  # inside a cell: keep it whole (a cell holds at most 32,767 characters)
            carry = data[-_CARRIED:]
            continue
        end += len(_CELL_END)
        for match in _UNCOMPUTED.finditer(data, 0, end):
            column, row, formula = match.groups()
            text = html.unescape((formula or b"").decode(errors="replace"))
            found[(int(row), column_index_from_string(column.decode()))] = text
            if len(found) > MAX_UNCOMPUTED:
                raise ImportRefused(
                    "UNCOMPUTED_FORMULAS",
                    f"More than {MAX_UNCOMPUTED} formulas in the sheet were never computed: open and save the file"
                    " in Excel or WPS, or paste values.",
                )
        carry = data[end:]
    return found
