"""Saved queries exported whole over HTTP: columns from the selection, every list, every page,
a row limit that says so, coded errors, XLSX, and a register that imports back unchanged."""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import asyncpg
import openpyxl
import pytest

from api.exports import BrokenExport
from db import saved

from .support import bearer, service

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "queries"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

POINTS = """query Points($name: String, $first: Int = 40) {
  contactPoints(first: $first, orderBy: {field: CODE}, filter: {nameContains: $name}) {
    totalCount
    nodes {
      ...Naming
      where: district { name region { name } }
      starAwards { batch }
      hostKind
      code
    }
  }
}
fragment Naming on ContactPoint { code name }"""
COLUMNS = ["code", "name", "where.name", "where.region.name", "starAwards", "hostKind"]

TWO_LISTS = """query Both {
  regions { code name }
  district(code: "310101") { name contactPoints(first: 7, orderBy: {field: CODE}) { edges { node { code } } } }
}"""
POINTS_OF = "query PointsOf($d: [String!]!) { contactPoints(filter: {districtCodes: $d}) { nodes { code } } }"
CASES = "query Cases { cases(first: 5) { nodes { number consumerPhone } } }"
NO_LIST = 'query OneDistrict { district(code: "310115") { name } }'
BACKWARDS = "query Last { contactPoints(last: 5) { nodes { code } } }"
PUDONG = "310115"


async def store(dsn: str, *documents: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for document in documents:
            found = re.search(r"query\s+(\w+)", document)
            assert found is not None
            name = found.group(1)
            await saved.save(conn, name, document, name, "tests")
    finally:
        await conn.close()


def read_csv(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def sheets(content: bytes) -> dict[str, list[tuple[Any, ...]]]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return {sheet.title: list(sheet.iter_rows(values_only=True)) for sheet in book.worksheets}


def graphql_data(client: Any, query: str, **params: Any) -> Any:
    response = client.get(f"/queries/{query}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


async def test_columns_come_from_the_selection_even_when_nothing_matches(db_dsn: str) -> None:
    await store(db_dsn, POINTS)
    with service(db_dsn) as client:
        empty = client.get("/queries/Points", params={"name": "no point has this name", "format": "csv"})
        assert empty.status_code == 200, empty.text
        assert read_csv(empty.content) == [COLUMNS]
        assert empty.headers["x-export-truncated"] == "false"
        assert empty.headers["cache-control"] == "no-store"
        empty_sheet = client.get("/queries/Points", params={"name": "no point has this name", "format": "xlsx"})
        assert sheets(empty_sheet.content) == {"contactPoints": [tuple(COLUMNS)]}
        some = client.get("/queries/Points", params={"first": "3", "name": "浦东"}, headers={"Accept": "text/csv"})
        expected = graphql_data(client, "Points", first=3, name="浦东")["contactPoints"]
    header, *rows = read_csv(some.content)
    assert header == COLUMNS and len(rows) == expected["totalCount"] > 3  # every page, not the first 3
    first = expected["nodes"][0]
    assert rows[0][:4] == [first["code"], first["name"], first["where"]["name"], first["where"]["region"]["name"]]
    assert rows[0][4] == ("[" + ",".join(f'{{"batch":{a["batch"]}}}' for a in first["starAwards"]) + "]")
    assert rows[0][5] == first["hostKind"]


async def test_several_lists_are_one_csv_each_in_a_zip_or_one_sheet_each(db_dsn: str) -> None:
    await store(db_dsn, TWO_LISTS)
    with service(db_dsn) as client:
        zipped = client.get("/queries/Both", params={"format": "csv"})
        book = client.get("/queries/Both", params={"format": "xlsx"})
        expected = graphql_data(client, "Both")
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    assert zipped.headers["content-disposition"] == 'attachment; filename="Both.zip"'
    archive = zipfile.ZipFile(io.BytesIO(zipped.content))
    assert archive.namelist() == ["regions.csv", "district.contactPoints.csv"]
    regions = read_csv(archive.read("regions.csv"))
    assert regions == [["code", "name"], *([r["code"], r["name"]] for r in expected["regions"])]
    points = read_csv(archive.read("district.contactPoints.csv"))
    edges = expected["district"]["contactPoints"]["edges"]
    assert points[0] == ["code"] and len(points) - 1 > len(edges) == 7  # the whole list, not the `first` asked
    assert [row[0] for row in points[1:8]] == [e["node"]["code"] for e in edges]
    assert book.headers["content-type"] == XLSX
    assert sheets(book.content) == {
        "regions": [tuple(row) for row in regions],
        "district.contactPoints": [tuple(row) for row in points],
    }


async def test_cursors_are_followed_to_the_end_beyond_a_page(db_dsn: str) -> None:
    register = (EXAMPLES / "ContactPointRegister.graphql").read_text()
    await store(db_dsn, register)
    count = "query Count($d: [String!]) { contactPoints(filter: {districtCodes: $d}) { totalCount } }"
    with service(db_dsn) as client:
        response = client.get("/queries/ContactPointRegister", params={"districts": PUDONG, "format": "csv"})
        total = client.post("/graphql", json={"query": count, "variables": {"d": [PUDONG]}}).json()
    header, *rows = read_csv(response.content)
    assert response.headers["x-export-truncated"] == "false"
    assert response.headers["x-export-row-limit"] == "100000"
    assert len(rows) == total["data"]["contactPoints"]["totalCount"] > 1000  # Pudong's 1,919 and more pages than 10
    codes = [row[0] for row in rows]
    assert codes == sorted(set(codes)) and all(code.startswith(f"CP{PUDONG}") for code in codes)
    assert header == [
        "code",
        "name",
        "nameEn",
        "district.code",
        "street.name",
        "hostKind",
        "address",
        "establishedOn",
        "usesWecom",
        "hasOnlineMediation",
    ]


async def test_the_row_limit_cuts_and_says_so(db_dsn: str) -> None:
    await store(db_dsn, POINTS, TWO_LISTS)
    with service(db_dsn, LIAISON_MAX_EXPORT_ROWS="150") as client:
        cut = client.get("/queries/Points", params={"format": "csv"})
        whole = client.get("/queries/Points", params={"format": "csv", "name": "浦东"})
        both = client.get("/queries/Both", params={"format": "xlsx"})
    assert cut.headers["x-export-truncated"] == "true" and cut.headers["x-export-row-limit"] == "150"
    assert cut.headers["x-export-truncated-lists"] == "contactPoints"
    assert len(read_csv(cut.content)) == 1 + 150
    assert whole.headers["x-export-truncated"] == "false" and 1 < len(read_csv(whole.content)) <= 151
    found = sheets(both.content)
    assert both.headers["x-export-truncated-lists"] == "district.contactPoints"
    assert len(found["district.contactPoints"]) == 151 and len(found["regions"]) < 150
    with service(db_dsn, LIAISON_MAX_EXPORT_ROWS="2") as client:
        tiny = client.get("/queries/Both", params={"format": "csv"})
    assert tiny.headers["x-export-truncated-lists"] == "regions, district.contactPoints"  # a plain list too
    archive = zipfile.ZipFile(io.BytesIO(tiny.content))
    assert [len(read_csv(archive.read(name))) for name in archive.namelist()] == [3, 3]


async def test_a_failing_export_answers_its_status_and_a_json_error(db_dsn: str) -> None:
    await store(db_dsn, POINTS, POINTS_OF, CASES, NO_LIST, BACKWARDS)

    def refused(response: Any, status: int, code: str) -> None:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["errors"][0]["extensions"]["code"] == code

    with service(db_dsn, role=None, LIAISON_DB_TIMEOUT="1", LIAISON_MAX_EXPORT_ROWS="10") as client:
        refused(client.get("/queries/Points", params={"first": "two", "format": "csv"}), 400, "BAD_USER_INPUT")
        refused(client.get("/queries/PointsOf", params={"format": "csv"}), 400, "BAD_USER_INPUT")  # $d required
        refused(client.get("/queries/Points", params={"nope": "1", "format": "xlsx"}), 400, "BAD_USER_INPUT")
        refused(client.get("/queries/Points", params={"format": "pdf"}), 400, "BAD_REQUEST")
        refused(client.get("/queries/OneDistrict", params={"format": "csv"}), 400, "NOT_A_LIST")
        refused(client.get("/queries/Last", params={"format": "csv"}), 400, "NOT_EXPORTABLE")
        refused(client.get("/queries/Cases", params={"format": "csv"}), 403, "FORBIDDEN")
        refused(client.get("/queries/Cases", headers={"Accept": XLSX}), 403, "FORBIDDEN")
        refused(
            client.get("/queries/Cases", params={"format": "csv"}, headers=bearer("nobody")), 401, "UNAUTHENTICATED"
        )
        partner = client.get("/queries/Cases", params={"format": "csv"}, headers=bearer("partner", regions=["330000"]))
        refused(partner, 403, "FORBIDDEN")  # consumers' phones: partial data is no export
        assert client.get("/queries/Cases", params={"format": "csv"}, headers=bearer("internal")).status_code == 200
        conn = await asyncpg.connect(db_dsn)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE contact_point IN ACCESS EXCLUSIVE MODE")
                fault = await asyncio.to_thread(client.get, "/queries/Points", params={"format": "csv"})
        finally:
            await conn.close()
    refused(fault, 503, "DATABASE_UNAVAILABLE")
    assert fault.headers["retry-after"] == "5"


async def test_the_register_goes_out_as_xlsx_and_comes_back_unchanged(db_dsn: str) -> None:
    await store(db_dsn, (EXAMPLES / "ContactPointRegister.graphql").read_text())
    with service(db_dsn, role=None) as client:
        admin = bearer("admin")
        exported = client.get(
            "/queries/ContactPointRegister", params=[("districts", "310101"), ("districts", "310104")], headers=admin
        )
        assert exported.status_code == 200  # JSON without a format
        exported = client.get(
            "/queries/ContactPointRegister",
            params=[("districts", "310101"), ("districts", "310104"), ("format", "xlsx")],
            headers=admin,
        )
        assert exported.status_code == 200 and exported.headers["content-type"] == XLSX
        [rows] = sheets(exported.content).values()
        assert len(rows) > 50 and isinstance(rows[1][7], datetime.datetime)  # established on: a date cell
        dry = client.post(
            "/imports",
            data={"kind": "contact-points"},
            files={"file": ("register.xlsx", exported.content, XLSX)},
            headers=admin,
        )
    assert dry.status_code == 200, dry.text
    report = dry.json()["report"]
    assert report["rejectedRows"] == 0 and report["ignoredColumns"] == [], report
    assert (report["created"], report["updated"], report["unchanged"]) == (0, 0, len(rows) - 1)


async def test_a_page_that_fails_midway_breaks_the_stream_off(db_dsn: str) -> None:
    """Past the first page the status is sent: a failure (here the caller's budget, spent
    after a few pages) must not end the file as if it were whole."""
    await store(db_dsn, (EXAMPLES / "ContactPointRegister.graphql").read_text())
    with service(db_dsn, LIAISON_BUDGET_POINTS="1000") as client, pytest.raises(BrokenExport, match="RATE_LIMITED"):
        client.get("/queries/ContactPointRegister", params={"districts": PUDONG, "format": "csv"})


async def test_a_page_on_an_allowed_origin_reads_that_an_export_was_cut_and_its_name(db_dsn: str) -> None:
    """Without them in Access-Control-Expose-Headers a browser hides them from the page."""
    origin = "https://dashboard.example.cn"
    await store(db_dsn, POINTS)
    with service(db_dsn, LIAISON_MAX_EXPORT_ROWS="2", LIAISON_CORS_ORIGINS=origin) as client:
        cut = client.get("/queries/Points", params={"format": "csv"}, headers={"Origin": origin})
    assert cut.status_code == 200 and cut.headers["x-export-truncated-lists"] == "contactPoints"
    exposed = {h.strip().lower() for h in cut.headers["access-control-expose-headers"].split(",")}
    told = {h for h in cut.headers if h.startswith("x-export-") or h == "content-disposition"}
    assert told == {"x-export-truncated", "x-export-row-limit", "x-export-truncated-lists", "content-disposition"}
    assert told <= exposed, told - exposed
