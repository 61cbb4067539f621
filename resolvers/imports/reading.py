"""Rows of a CSV or XLSX file, streamed: the file is never held whole in memory.

CSV comes in UTF-8 (with or without a byte-order mark) or, from Chinese Excel, in GBK:
read as GB 18030, its superset. The encoding is chosen from the first megabyte; a later
byte that does not decode refuses the file with its line. XLSX is read in openpyxl's
read-only mode, row by row, with the values Excel last computed for formulas (those it
never computed are found by ``formulas``).
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from .errors import ImportRefused

__all__ = ["Sheet", "open_sheet"]

SAMPLE = 1 << 20
ZIP_MAGIC = b"PK\x03\x04"


@dataclass
class Sheet:
    """A file's rows: ``rows`` yields (row number as the spreadsheet shows it, cells)."""

    rows: Iterator[tuple[int, tuple[Any, ...]]]
    format: str
    encoding: str | None
    total: int | None
    """Rows (XLSX, from its dimension) or bytes (CSV) for a progress bar; None when unknown."""
    done: Any
    """A callable: how far into ``total`` reading has come."""
    unit: str
    uncomputed: dict[tuple[int, int], str] = field(default_factory=dict)
    """(row, column from 1) of each formula Excel never computed, with its text (XLSX)."""


def open_sheet(binary: IO[bytes], size: int) -> Sheet:
    """The rows of ``binary`` (seekable), as XLSX when it is a zip, otherwise as CSV."""
    head = binary.read(len(ZIP_MAGIC))
    binary.seek(0)
    if head == ZIP_MAGIC:
        return _xlsx(binary)
    return _csv(binary, size)


def _xlsx(binary: IO[bytes]) -> Sheet:
    import openpyxl  # only for workbooks: a CSV import does without it

    from .formulas import uncomputed_formulas

    try:
        workbook = openpyxl.load_workbook(binary, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportRefused("UNREADABLE_FILE", f"The file is a zip but not an XLSX workbook ({exc}).") from None
    sheet = workbook.worksheets[0]
    try:
        with sheet._get_source() as xml:  # openpyxl's own stream of the sheet's XML
            uncomputed = uncomputed_formulas(xml)
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        workbook.close()
        raise ImportRefused("UNREADABLE_FILE", f"The workbook's first sheet cannot be read ({exc}).") from None
    count = [0]

    def rows() -> Iterator[tuple[int, tuple[Any, ...]]]:
        try:
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                count[0] = number
                yield number, row
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise ImportRefused(
                "UNREADABLE_FILE", f"The workbook cannot be read past row {count[0]} ({exc})."
            ) from None
        finally:
            workbook.close()

    return Sheet(rows(), "xlsx", None, sheet.max_row, lambda: count[0], "rows", uncomputed)


class _Counting(io.RawIOBase):
    """The bytes read so far, for the progress bar."""

    def __init__(self, inner: IO[bytes]) -> None:
        self.inner, self.count = inner, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        codecs.getincrementaldecoder("gb18030")().decode(sample, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        raise ImportRefused(
            "UNREADABLE_FILE", "The file is neither an XLSX workbook nor text in UTF-8 or GBK; save it as CSV or XLSX."
        ) from None


def _csv(binary: IO[bytes], size: int) -> Sheet:
    sample = binary.read(SAMPLE)
    binary.seek(0)
    if b"\x00" in sample:
        raise ImportRefused("UNREADABLE_FILE", "The file holds NUL bytes: it is not CSV text (UTF-16 is not read).")
    encoding = _encoding(sample)
    counting = _Counting(binary)
    stream = io.TextIOWrapper(io.BufferedReader(counting, 1 << 16), encoding=encoding, newline="")
    try:
        dialect: Any = csv.Sniffer().sniff(sample[:8192].decode(encoding, errors="ignore"), delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(stream, dialect)

    def rows() -> Iterator[tuple[int, tuple[Any, ...]]]:
        number = 0
        try:
            for number, row in enumerate(reader, start=1):
                yield number, tuple(row)
        except UnicodeDecodeError:
            raise ImportRefused(
                "UNREADABLE_FILE", f"Row {number + 1} is not {encoding} text; save the whole file in one encoding."
            ) from None
        except csv.Error as exc:
            raise ImportRefused("UNREADABLE_FILE", f"Row {number + 1} is not CSV: {exc}.") from None

    return Sheet(rows(), "csv", encoding.replace("-sig", ""), size, lambda: counting.count, "bytes")
