"""A sheet's header found and its rows parsed: each row a record to stage, or its rejections.

The header is the row, among the first ten, naming the most fields of the kind: title rows
above it (a merged cell across the sheet) are passed over, and in a two-row header an
empty cell (under a cell merged downwards) takes the name above it. Headers match without
regard to case, spaces, ``*``, ``_`` or ``.``, so the API's own names as a saved query's
export writes them (``nameEn``, ``district.code``) read as the fields (``name_en``,
``district_code``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .errors import ImportRefused
from .kinds import Field, Kind
from .values import Invalid

__all__ = ["Rejection", "RowParser"]

HEADER_ROWS = 10


@dataclass(frozen=True, slots=True)
class Rejection:
    row: int
    column: str
    """The column's header as the file has it (or the field's documented header)."""
    reason: str
    code: str | None = None
    """For a fault of the row's shape (``EXTRA_CELLS``, ``MISSING_CELLS``); None for a cell's."""


def _folded(name: Any) -> str:
    folded = unicodedata.normalize("NFKC", str(name)).lower()
    folded = re.sub(r"[\s*＊:：._]|[(（](必填|选填|required|optional)[)）]", "", folded)
    return folded


def _blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


class RowParser:
    """Rows of ``sheet`` for ``kind``: ``take(n)`` gives up to n records (row number, then the
    fields in the kind's order) and keeps the rejections in ``rejected``. ``aligned``: the
    rows are CSV's, with a cell per header (an XLSX row stores no cell after its last value)."""

    def __init__(
        self,
        kind: Kind,
        rows: Iterator[tuple[int, tuple[Any, ...]]],
        keep: int,
        uncomputed: dict[tuple[int, int], str] | None = None,
        *,
        aligned: bool = False,
    ) -> None:
        self.kind, self.keep, self.aligned = kind, keep, aligned
        self.uncomputed = uncomputed or {}
        self.rejected: list[Rejection] = []
        self.rejected_rows = 0
        self.rows = 0
        self.ignored: list[str] = []
        self._names = {_folded(h): f for f in kind.fields for h in f.headers}
        head = []
        for item in rows:
            head.append(item)
            if len(head) == HEADER_ROWS:
                break
        self.columns = self._header(head)
        self._source = self._after_header(head, rows)

    def _header(self, head: list[tuple[int, tuple[Any, ...]]]) -> list[tuple[int, Field, str]]:
        best: tuple[int, int, list[tuple[int, Field, str]], list[str]] | None = None
        for i, (_, cells) in enumerate(head):
            above = head[i - 1][1] if i else ()
            columns, ignored, seen = [], [], set()
            for j, cell in enumerate(cells):
                name = cell if not _blank(cell) else (above[j] if j < len(above) else None)
                if _blank(name):
                    continue
                found = self._names.get(_folded(name))
                if found is None or found.name in seen:
                    ignored.append(str(name).strip())
                    continue
                seen.add(found.name)
                columns.append((j, found, str(name).strip()))
            if best is None or len(columns) > len(best[2]):
                best = (i, len(columns), columns, ignored)
        if best is None or not best[2]:
            raise ImportRefused(
                "MISSING_COLUMNS",
                f"No header row naming the {self.kind.name} columns in the first {HEADER_ROWS} rows: {self._expected()}.",
            )
        self._header_index = best[0]
        named = (head[best[0] - 1][1] if best[0] else (), head[best[0]][1])
        self.width = max((j + 1 for cells in named for j, c in enumerate(cells) if not _blank(c)), default=0)
        missing = [f for f in self.kind.fields if f.required and f.name not in {c[1].name for c in best[2]}]
        if missing:
            names = "; ".join(f"{f.zh[0]} ({f.en[0]})" for f in missing)
            raise ImportRefused("MISSING_COLUMNS", f"The header row lacks required columns: {names}.")
        self.ignored = best[3]
        return best[2]

    def _expected(self) -> str:
        return ", ".join(f"{f.zh[0]} ({f.en[0]})" for f in self.kind.fields if f.required)

    def _after_header(
        self, head: list[tuple[int, tuple[Any, ...]]], rest: Iterator[tuple[int, tuple[Any, ...]]]
    ) -> Iterator[tuple[int, tuple[Any, ...]]]:
        yield from head[self._header_index + 1 :]
        yield from rest

    def _reject(self, row: int, column: str, reason: str, code: str | None = None) -> None:
        if len(self.rejected) < self.keep:
            self.rejected.append(Rejection(row, column, reason, code))

    def _misaligned(self, number: int, cells: tuple[Any, ...]) -> bool:
        """A row with a cell past the header's last, or a CSV row without a cell under each
        header: in CSV a comma unquoted (``¥1,200.50``) or lost, in XLSX a row shifted or a
        value typed beside the table (a formula never computed is a value too), so reading
        the row by position would misread it or pass a value over."""
        filled = max(
            (j + 1 for j, c in enumerate(cells) if not _blank(c) or (number, j + 1) in self.uncomputed), default=0
        )
        if filled > self.width:
            remedy = (
                'quote a value holding a comma ("1,200.50")'
                if self.aligned
                else "give its column a header, or clear it"
            )
            self._reject(
                number, f"column {filled}", f"{filled} cells, the header has {self.width}: {remedy}", "EXTRA_CELLS"
            )
        elif self.aligned and len(cells) < self.width:
            self._reject(
                number,
                self.columns[-1][2] if self.columns else "",
                f"{len(cells)} cells, the header has {self.width}: each row needs a cell (empty or not) per column",
                "MISSING_CELLS",
            )
        else:
            return False
        self.rejected_rows += 1
        return True

    def header_of(self, field: str) -> str:
        """The column's name in this file, for a rejection the database found."""
        return next((name for _, f, name in self.columns if f.name == field), self.kind.field(field).zh[0])

    def _parse(self, number: int, cells: tuple[Any, ...]) -> tuple[Any, ...] | None:
        row: dict[str, Any] = {}
        faults = 0
        for j, field, name in self.columns:
            cell = cells[j] if j < len(cells) else None
            if _blank(cell) and (number, j + 1) in self.uncomputed:
                formula = self.uncomputed[(number, j + 1)]
                self._reject(
                    number,
                    name,
                    f"a formula (={formula}) never computed: save the file in Excel or WPS, or paste values",
                )
                faults += 1
                continue
            if _blank(cell):
                row[field.name] = None
                if field.required:
                    self._reject(number, name, "empty; this column is required")
                    faults += 1
                continue
            if isinstance(cell, str) and cell.lstrip().startswith("="):
                self._reject(number, name, "a formula, not a value: save the sheet with its values")
                faults += 1
                continue
            try:
                row[field.name] = field.parse(cell)
            except Invalid as exc:
                self._reject(number, name, str(exc))
                faults += 1
        if not faults:
            for check in self.kind.checks:
                found = check(row)
                if found is not None:
                    self._reject(number, self.header_of(found[0]), found[1])
                    faults += 1
                    break
        if faults:
            self.rejected_rows += 1
            return None
        return (number, *(row.get(f.name) for f in self.kind.fields))

    def take(self, count: int) -> list[tuple[Any, ...]]:
        records: list[tuple[Any, ...]] = []
        for number, cells in self._source:
            if all(_blank(c) for c in cells):
                continue
            self.rows += 1
            if self._misaligned(number, cells):
                continue
            record = self._parse(number, cells)
            if record is not None:
                records.append(record)
                if len(records) == count:
                    break
        return records
