"""Imports from XLSX (written here with openpyxl), over HTTP with its roles, and by the CLI."""

from __future__ import annotations

import datetime
import io
import os
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import openpyxl

from resolvers.imports import Actor, run_import
from resolvers.imports.formulas import uncomputed_formulas

from .support import LIAISON, app_state, bearer, service

FILES = Path(__file__).parent / "imports"
HEADER = ["联络点编号", "联络点名称", "区代码", "街镇", "类型", "地址", "设立日期"]


def workbook_with_merged_header() -> bytes:
    """As a district publishes its register: a title merged across the sheet, a two-row
    header with cells merged down and a group merged across, dates as dates, as serial
    numbers and as a formula whose value Excel cached."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["黄浦区消费维权联络点名册"])
    sheet.merge_cells("A1:G1")
    sheet.append(["联络点编号", "联络点名称", "区代码", "所在地", None, "类型", "设立日期"])
    sheet.append([None, None, None, "街镇", "地址", None, None])
    for column in "ABCFG":
        sheet.merge_cells(f"{column}2:{column}3")
    sheet.merge_cells("D2:E2")
    sheet.append(
        [
            "CP310101-90041",
            "外滩源消费维权联络点",
            "310101",
            "外滩街道",
            "圆明园路41号",
            "景区",
            datetime.date(2020, 9, 28),
        ]
    )
    sheet.append(["CP310101-90042", "豫园消费维权联络点", 310101, "豫园街道", "福佑路42号", "商场", 44102])
    sheet.append(
        [
            "CP310101-90043",
            "南京东路消费维权联络点",
            "310101",
            "南京东路街道",
            "南京东路43号",
            "商铺",
            "=DATE(2020,9,28)",
        ]
    )
    sheet.append(
        [
            "CP310101-90044",
            "人民广场消费维权联络点",
            "310101",
            "南京东路街道",
            "人民大道44号",
            "企业",
            "=DATE(2020,9,28)",
        ]
    )
    buffer = io.BytesIO()
    book.save(buffer)
    return _cache_formula(buffer.getvalue(), "G6", "44102")


def _cache_formula(data: bytes, cell: str, value: str) -> bytes:
    """The workbook as Excel saves it: the formula in ``cell`` with its computed value
    (openpyxl writes formulas without one, as a program that never calculates does)."""
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = content.decode()
                start = text.index(f'<c r="{cell}"')
                end = text.index("</c>", start)
                assert "<v />" in text[start:end]
                text = text[:start] + text[start:end].replace("<v />", f"<v>{value}</v>") + text[end:]
                content = text.encode()
            out.writestr(item, content)
    return target.getvalue()


async def test_xlsx_with_merged_header_serial_dates_and_formulas(conn: asyncpg.Connection) -> None:
    data = workbook_with_merged_header()
    report = await run_import(
        conn, "contact-points", io.BytesIO(data), file_name="x.xlsx", apply=True, actor=Actor("cli:t", "cli")
    )
    assert report.format == "xlsx" and report.rows == 4
    assert [(r.row, r.column, r.reason) for r in report.rejected] == [
        (7, "设立日期", "a formula (=DATE(2020,9,28)) never computed: save the file in Excel or WPS, or paste values")
    ]
    assert not report.applied
    good = io.BytesIO()
    book = openpyxl.load_workbook(io.BytesIO(data))
    book.active.delete_rows(7)
    book.save(good)
    report = await run_import(
        conn, "contact-points", io.BytesIO(_cache_formula(good.getvalue(), "G6", "44102")), file_name="x.xlsx",
        apply=True, actor=Actor("cli:t", "cli"),
    )  # fmt: skip
    assert report.applied and report.created == 3 and report.ignored_columns == []
    days = await conn.fetch(
        "SELECT p.code, p.established_on, s.name AS street_town, p.address FROM contact_point p"
        " JOIN street s ON s.id = p.street_id WHERE p.code LIKE 'CP310101-9004_' ORDER BY p.code"
    )
    assert {d["established_on"] for d in days} == {datetime.date(2020, 9, 28)}
    assert (days[0]["street_town"], days[0]["address"]) == ("外滩街道", "圆明园路41号")


async def test_xlsx_rows_with_a_cell_past_the_header_are_rejected_as_in_csv(conn: asyncpg.Connection) -> None:
    """A value right of the header's last column has no column: the row was shifted, or the
    value typed beside it, so it is refused with ``EXTRA_CELLS`` as a CSV row with a cell
    too many is, where it was passed over. A trailing cell with nothing in it (styled, or
    spaces) is no extra cell."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    points = [
        [f"CP310101-9005{n}", f"联络点{n}", "310101", "外滩街道", "商铺", f"中山东一路{n}号", "2021-01-01"]
        for n in range(5)
    ]
    sheet.append([*points[0], None, "备注: 已搬迁"])  # a value two columns past the header
    sheet.append([*points[1], " "])  # spaces only
    sheet.append(points[2])
    sheet.cell(row=4, column=9).fill = openpyxl.styles.PatternFill("solid", fgColor="FFFF00")  # styled, empty
    sheet.append([*points[3], "=1+1"])  # a formula never computed, past the header
    sheet.append([None, *points[4]])  # shifted right by one: the date past the header
    buffer = io.BytesIO()
    book.save(buffer)
    report = await run_import(
        conn, "contact-points", buffer, file_name="x.xlsx", apply=True, actor=Actor("cli:t", "cli")
    )
    assert report.format == "xlsx" and report.rows == 5 and not report.applied
    assert [(r.row, r.code) for r in report.rejected if r.code] == [
        (2, "EXTRA_CELLS"),
        (5, "EXTRA_CELLS"),
        (6, "EXTRA_CELLS"),
    ]
    assert report.rejected_rows == 3
    assert report.as_json()["rejected"][0]["code"] == "EXTRA_CELLS"
    assert "9 cells" in report.rejected[0].reason and "7" in report.rejected[0].reason
    assert await conn.fetchval("SELECT count(*) FROM contact_point WHERE code LIKE 'CP310101-9005_'") == 0


def test_uncomputed_formulas_found_across_chunks() -> None:
    xml = (
        b'<sheetData><row r="6"><c r="F6" t="inlineStr"><is><t>x</t></is></c><c r="G6"><f>DATE(2020,9,28)</f><v /></c>'
        b'<c r="H6"><f>A1&amp;B1</f><v>3</v></c><c r="AA6" s="1"><f t="shared" si="0"/></c>'
        b'<c r="B7"><f>&quot;a&quot;&amp;&quot;b&quot;</f></c></row></sheetData>'
    )
    for chunk in (7, 64, 1 << 20):
        assert uncomputed_formulas(io.BytesIO(xml), chunk) == {
            (6, 7): "DATE(2020,9,28)",
            (6, 27): "",
            (7, 2): '"a"&"b"',
        }


def _post(client, kind: str, name: str, data: bytes, role: str | None, apply: bool = False, **claims):
    headers = bearer(role, **claims) if role else {}
    form = {"kind": kind, **({"apply": "true"} if apply else {})}
    return client.post("/imports", data=form, files={"file": (name, data, "text/csv")}, headers=headers)


def test_http_roles_dry_run_and_apply(db_dsn: str) -> None:
    data = (FILES / "contact_points.csv").read_bytes()
    with service(db_dsn, role=None) as client:
        anonymous = _post(client, "contact-points", "c.csv", data, None)
        assert anonymous.status_code == 401 and anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        for role in ("internal", "partner"):
            claims: dict[str, Any] = {"regions": ["320000"]} if role == "partner" else {}
            refused = _post(client, "contact-points", "c.csv", data, role, **claims)
            assert refused.status_code == 403 and refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        dry = _post(client, "contact-points", "c.csv", data, "admin")
        assert dry.status_code == 200, dry.text
        report = dry.json()["report"]
        assert (report["created"], report["updated"], report["applied"], report["rejectedRows"]) == (2, 1, False, 0)
        applied = _post(client, "contact-points", "c.csv", data, "admin", apply=True).json()["report"]
        assert applied["applied"] and applied["importId"] is not None
        again = _post(client, "contact-points", "c.csv", data, "admin", apply=True).json()["report"]
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
        officer = _post(client, "contact-points", "c.csv", data, "case_officer", apply=True, districts=["310101"])
        assert officer.status_code == 422 and officer.json()["errors"][0]["extensions"]["code"] == "ROWS_REJECTED"
        assert officer.json()["report"]["rejected"] == [
            {"row": 4, "column": "联络点编号", "reason": "outside your districts (310104)"}
        ]


def test_http_bad_requests_are_coded(db_dsn: str) -> None:
    with service(db_dsn, role=None) as client:
        bad_kind = _post(client, "stores", "c.csv", b"x", "admin")
        assert bad_kind.status_code == 400 and bad_kind.json()["errors"][0]["extensions"]["code"] == "UNKNOWN_KIND"
        no_file = client.post("/imports", files={"kind": (None, "cases")}, headers=bearer("admin"))
        assert no_file.status_code == 400 and no_file.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        for not_a_form in (
            client.post("/imports", json={"kind": "cases"}, headers=bearer("admin")),
            client.post("/imports", data={"kind": "cases"}, headers=bearer("admin")),
        ):  # told what to send, not that the kind is unknown
            error = not_a_form.json()["errors"][0]
            assert (not_a_form.status_code, error["extensions"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
            assert "multipart/form-data" in error["message"]
        unreadable = _post(client, "cases", "c.xlsx", b"PK\x03\x04 broken", "admin")
        assert unreadable.status_code == 422
        assert unreadable.json()["errors"][0]["extensions"]["code"] == "UNREADABLE_FILE"
        columns = _post(client, "cases", "c.csv", (FILES / "contact_points.csv").read_bytes(), "admin")
        assert columns.status_code == 422 and columns.json()["errors"][0]["extensions"]["code"] == "MISSING_COLUMNS"
        bad_rows = _post(client, "cases", "c.csv", (FILES / "cases_bad.csv").read_bytes(), "admin")
        assert bad_rows.status_code == 200 and bad_rows.json()["report"]["rejectedRows"] == 7


def test_http_refuses_an_upload_over_the_bound(db_dsn: str) -> None:
    produced: list[int] = []

    def body(size: int) -> Iterator[bytes]:
        for _ in range(size // 1000):
            produced.append(1000)
            yield b"x" * 1000

    admin = {**bearer("admin"), "Content-Type": "multipart/form-data; boundary=b"}
    with service(db_dsn, role=None, LIAISON_MAX_IMPORT_BYTES="1000") as client:
        large = _post(client, "cases", "c.csv", b"x" * 2000, "admin")
        assert large.status_code == 413 and large.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
        assert "at most 1000 bytes" in large.json()["errors"][0]["message"]
        # Refused by its Content-Length: not one byte of the body is read.
        declared = client.post("/imports", content=body(100_000_000), headers={**admin, "Content-Length": "100000000"})
        assert declared.status_code == 413 and produced == []
        # Declared short, sent long: refused by the count as it is read.
        lying = client.post("/imports", content=body(5000), headers={**admin, "Content-Length": "500"})
        assert lying.status_code == 413 and lying.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    with service(db_dsn, role=None) as client:  # the default: 256 MiB
        assert app_state(client).settings.limits.max_import_bytes == 256 * 1024 * 1024
        small = _post(client, "cases", "c.csv", b"x" * 2000, "admin")
        assert small.status_code == 422  # read, and refused for what it holds


def test_the_command_line_dry_runs_then_applies(db_dsn: str) -> None:
    env = {**os.environ, "DATABASE_URL": db_dsn, "LIAISON_DEMO_DATA": "0"}

    def liaison(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(LIAISON), "import", *args], env=env, capture_output=True, text=True, timeout=120)

    dry = liaison("awards", str(FILES / "awards_bad.csv"))
    assert dry.returncode == 1 and "row 3, 批次: batch 9 is not known" in dry.stdout
    assert "Traceback" not in dry.stderr
    applied = liaison("cases", str(FILES / "cases.csv"), "--apply")
    assert applied.returncode == 0, applied.stderr
    assert "cases imported: 3 rows, 3 created, 0 updated, 0 unchanged, 0 rejected" in applied.stdout
    again = liaison("cases", str(FILES / "cases.csv"), "--apply")
    assert "0 created, 0 updated, 3 unchanged" in again.stdout
    refused = liaison("cases", str(FILES / "missing.csv"))
    assert refused.returncode == 2 and "No such file" in refused.stderr
    stats = subprocess.run([str(LIAISON), "stats", "check"], env=env, capture_output=True, text=True, timeout=120)
    assert stats.returncode == 0, stats.stdout
