"""A saved query's lists exported whole, as CSV (a ZIP of them for several lists) or XLSX.

Each list (``api.tables``) is fetched page by page through the normal execution, so the
caller's role, cost and budget apply to every page: the first page of each list before the
answer starts, so a failure gets its status (400, 401, 403, 429, 503 with ``Retry-After``)
and a JSON error body; the next pages (``after`` = the last ``endCursor``) while the answer
streams. A list stops at ``LIAISON_MAX_EXPORT_ROWS`` rows; since headers go first, whether
it will be cut is known from the first page: a connection's ``totalCount`` (asked for with
it), a plain list's length. A fault after the answer started cannot change its status: the
stream is broken off, so the client sees an incomplete transfer, never a short file.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import logging
import re
import tempfile
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLScalarType
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from strawberry.types import ExecutionResult

from db.saved import SavedOperation
from schema import schema
from schema.compiled import plain_data

from .admission import RETRY_AFTER, Refused, context_for, record_of
from .jsonout import dumps
from .tables import AFTER, NotExportable, Table, tables_of

__all__ = ["CSV", "FORMATS", "XLSX", "csv_of", "export"]

log = logging.getLogger(__name__)

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ZIP = "application/zip"
FORMATS = {"csv": CSV, "xlsx": XLSX}

_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")
"""Control characters XLSX cannot hold (openpyxl refuses them)."""
_STATUS = (  # the most severe first
    (503, set(RETRY_AFTER)),
    (500, {"INTERNAL_SERVER_ERROR"}),
    (429, {"RATE_LIMITED"}),
    (401, {"UNAUTHENTICATED"}),
    (403, {"FORBIDDEN"}),
    (404, {"NOT_FOUND"}),
)


class BrokenExport(Exception):
    """A page after the first failed: the stream ends without its last chunk."""


@dataclass
class _List:
    table: Table
    rows: list[Any]
    total: int
    cursor: str | None


class _Exporter:
    def __init__(self, request: Request, operation: SavedOperation, variables: dict[str, Any]) -> None:
        self.request, self.operation, self.variables = request, operation, variables
        self.limits = request.app.state.settings.limits
        self.limit = self.limits.max_export_rows
        self.response = Response()  # collects the headers execution sets (rate limits, cache hints)

    async def _execute(self, document: str, variables: dict[str, Any]) -> ExecutionResult:
        async with self.request.app.state.executions:
            return await schema.execute(
                document,
                variable_values=variables,
                context_value=context_for(self.request, self.response),
                operation_name=self.operation.operation_name,
            )

    async def first_pages(self) -> list[_List] | Response:
        try:
            tables = tables_of(
                schema._schema, self.operation.document, self.operation.operation_name, self.limits.max_page_size
            )
        except NotExportable as exc:
            raise Refused(400, exc.code, str(exc)) from exc
        lists = []
        for table in tables:
            result = await self._execute(table.first, self.variables)
            if result.errors:
                return self._failed(result)
            rows, total, cursor = table.page(plain_data(result.data))
            lists.append(_List(table, rows, total, cursor))
        return lists

    def _failed(self, result: ExecutionResult) -> Response:
        """The GraphQL errors as JSON, with the status of the most severe."""
        codes = {(error.extensions or {}).get("code") for error in result.errors or ()}
        record_of(self.request).errors.extend(str(code) for code in codes)
        status, headers = 400, {k: v for k, v in self.response.headers.items() if k.startswith("x-")}
        for candidate, known in _STATUS:
            if codes & known:
                status = candidate
                break
        if status == 503:
            headers["Retry-After"] = str(max(int(RETRY_AFTER[c]) for c in codes & RETRY_AFTER.keys()))  # type: ignore[index]
        if status == 429 and "retry-after" in self.response.headers:
            headers["Retry-After"] = self.response.headers["retry-after"]
        body = {"errors": [error.formatted for error in result.errors or ()]}
        return Response(dumps(body), status_code=status, headers=headers, media_type="application/json; charset=utf-8")

    async def rows(self, item: _List) -> AsyncIterator[list[list[Any]]]:
        """The list's rows, a page at a time, up to the limit."""
        table, left = item.table, self.limit
        page, cursor = item.rows, item.cursor
        while True:
            page = page[:left]
            left -= len(page)
            yield [table.row(row) for row in page]
            if left <= 0 or cursor is None or table.next is None:
                return
            try:
                async with asyncio.timeout(self.limits.request_timeout):
                    result = await self._execute(table.next, {**self.variables, AFTER: cursor})
            except Exception as exc:
                log.warning("export of %s broken off: %s", self.operation.label, exc)
                raise BrokenExport(str(exc)) from exc
            if result.errors:
                codes = ", ".join(str((e.extensions or {}).get("code")) for e in result.errors)
                log.warning("export of %s broken off after a page failed: %s", self.operation.label, codes)
                raise BrokenExport(codes)
            page, _, cursor = table.page(plain_data(result.data))


def _csv_cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON, not Python's True
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value  # never a formula when the sheet opens (CSV injection)
    return "" if value is None else value


def _csv_text(rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([_csv_cell(v) for v in row] for row in rows)
    return out.getvalue()


async def _csv(exporter: _Exporter, item: _List) -> AsyncIterator[str]:
    """CSV text with a BOM (so spreadsheets read the Chinese as UTF-8) and CRLF line ends."""
    yield "\ufeff" + _csv_text([[c.name for c in item.table.columns]])
    async for rows in exporter.rows(item):
        yield _csv_text(rows)


class _Chunks(io.RawIOBase):
    """A write-only stream whose bytes are taken out as they come: zipfile writes a ZIP to
    it without seeking (sizes in data descriptors), so the archive streams."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.buffer += data
        return len(data)

    def take(self) -> bytes:
        taken, self.buffer = bytes(self.buffer), bytearray()
        return taken


async def _zip(exporter: _Exporter, lists: list[_List]) -> AsyncIterator[bytes]:
    sink = _Chunks()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for item in lists:
            with archive.open(f"{item.table.name}.csv", "w", force_zip64=True) as member:
                async for text in _csv(exporter, item):
                    member.write(text.encode())
                    yield sink.take()
    yield sink.take()


def _sheet_title(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of ``[]:*?/\\``, unique in the workbook."""
    base = re.sub(r"[\[\]:*?/\\]", "_", name)[:31]
    title, n = base, 1
    while title.lower() in taken:
        n += 1
        title = f"{base[: 31 - len(str(n)) - 1]}~{n}"
    taken.add(title.lower())
    return title


def _xlsx_cell(sheet: Any, value: Any, type_: Any) -> Any:
    if isinstance(value, str):
        if isinstance(type_, GraphQLScalarType) and type_.name == "Date":
            value = datetime.date.fromisoformat(value)
            cell = WriteOnlyCell(sheet, value)
            cell.number_format = "yyyy-mm-dd"
            return cell
        cell = WriteOnlyCell(sheet, _ILLEGAL.sub("", value))
        cell.data_type = "s"  # text, even when it starts with "=": an XLSX cell is never a formula by accident
        return cell
    return value


def _append(sheet: Any, rows: list[list[Any]], types: list[Any]) -> None:
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value, type_) for value, type_ in zip(row, types, strict=True)])


async def _xlsx(exporter: _Exporter, lists: list[_List]) -> AsyncIterator[bytes]:
    """One sheet per list; openpyxl's write-only mode keeps rows in a temporary file, not in
    memory, and the finished workbook is streamed from another."""
    book = Workbook(write_only=True)
    taken: set[str] = set()
    for item in lists:
        sheet = book.create_sheet(_sheet_title(item.table.name, taken))
        types = [column.type for column in item.table.columns]
        sheet.append([column.name for column in item.table.columns])
        async for rows in exporter.rows(item):
            await asyncio.to_thread(_append, sheet, rows, types)  # openpyxl's CPU, off the event loop
    with tempfile.TemporaryFile() as saved:
        await asyncio.to_thread(book.save, saved)
        saved.seek(0)
        while chunk := await asyncio.to_thread(saved.read, 1 << 16):
            yield chunk


async def _encoded(texts: AsyncIterator[str]) -> AsyncIterator[bytes]:
    async for text in texts:
        yield text.encode()


def _headers(exporter: _Exporter, lists: list[_List], filename: str) -> dict[str, str]:
    headers = {k: v for k, v in exporter.response.headers.items() if k.startswith("x-")}
    headers["Cache-Control"] = "no-store"  # streamed, so no ETag to revalidate with; and maybe a credential's rows
    headers["X-Saved-Query-Version"] = str(exporter.operation.version)
    headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    cut = [item.table.name for item in lists if item.total > exporter.limit]
    headers["X-Export-Row-Limit"] = str(exporter.limit)
    headers["X-Export-Truncated"] = "true" if cut else "false"
    if cut:
        headers["X-Export-Truncated-Lists"] = ", ".join(cut)
    return headers


async def export(request: Request, operation: SavedOperation, variables: dict[str, Any], fmt: str) -> Response:
    """The answer to ``format=csv|xlsx``: headers decided from the first pages, rows streamed."""
    exporter = _Exporter(request, operation, variables)
    lists = await exporter.first_pages()
    if isinstance(lists, Response):
        return lists
    body: AsyncIterator[bytes]
    if fmt == "xlsx":
        media_type, filename, body = XLSX, f"{operation.name}.xlsx", _xlsx(exporter, lists)
    elif len(lists) == 1:
        media_type, filename = f"{CSV}; charset=utf-8", f"{operation.name}.csv"
        body = _encoded(_csv(exporter, lists[0]))
    else:
        media_type, filename, body = ZIP, f"{operation.name}.zip", _zip(exporter, lists)
    return StreamingResponse(body, media_type=media_type, headers=_headers(exporter, lists, filename))


def csv_of(table: Table, data: Any) -> str:
    """One result's list as CSV, for the command line, which runs one page."""
    items, _, _ = table.page(data)
    return "\ufeff" + _csv_text([[c.name for c in table.columns], *(table.row(item) for item in items)])
