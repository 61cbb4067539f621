"""Imports of each kind from the files in tests/imports/: dry run and apply, idempotence,
all or nothing, the history, and every kind of bad input the regulator's files hold."""

from __future__ import annotations

import datetime
import hashlib
import io
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from db.summaries import check as check_summaries
from resolvers.imports import Actor, ImportRefused, Report, Scope, run_import

FILES = Path(__file__).parent / "imports"
ME = Actor("cli:tester", "cli")


async def run(
    conn: asyncpg.Connection, kind: str, source: str | bytes, *, apply: bool = False, scope: Scope | None = None
) -> Report:
    data = (FILES / source).read_bytes() if isinstance(source, str) else source
    return await run_import(
        conn, kind, io.BytesIO(data), file_name=str(source)[:40], apply=apply, actor=ME, scope=scope
    )


def reasons(report: Report) -> dict[int, list[tuple[str, str]]]:
    found: dict[int, list[tuple[str, str]]] = {}
    for r in report.rejected:
        found.setdefault(r.row, []).append((r.column, r.reason))
    return found


def counts(report: Report) -> tuple[int, int, int, int]:
    return report.created, report.updated, report.unchanged, report.rejected_rows


async def point(conn: asyncpg.Connection, code: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM contact_point WHERE code = $1", code)
    return dict(row) if row else None


async def test_contact_points_dry_run_writes_nothing(conn: asyncpg.Connection) -> None:
    before = await conn.fetchval("SELECT count(*) FROM contact_point")
    report = await run(conn, "contact-points", "contact_points.csv")
    assert (report.rows, *counts(report)) == (3, 2, 1, 0, 0)
    assert not report.applied and report.import_id is None
    assert report.format == "csv" and report.encoding == "utf-8"
    assert await conn.fetchval("SELECT count(*) FROM contact_point") == before
    assert await conn.fetchval("SELECT count(*) FROM import_run") == 0


async def test_contact_points_apply_then_again_changes_nothing(conn: asyncpg.Connection) -> None:
    report = await run(conn, "contact-points", "contact_points.csv", apply=True)
    assert report.applied and counts(report) == (2, 1, 0, 0)
    new = await point(conn, "CP310101-90001")
    assert new is not None
    assert (new["established_on"], new["host_kind"], new["uses_wecom"], new["has_online_mediation"]) == (
        datetime.date(2020, 9, 28),
        "market_mall",
        True,
        False,
    )
    assert (await point(conn, "CP310104-90002"))["established_on"] == datetime.date(2020, 9, 28)  # type: ignore[index]
    assert (await point(conn, "CP310101-00001"))["address"] == "黄浦区局门路3号"  # type: ignore[index]
    again = await run(conn, "contact-points", "contact_points.csv", apply=True)
    assert counts(again) == (0, 0, 3, 0)
    history = await conn.fetch("SELECT * FROM import_run ORDER BY id")
    assert [(h["kind"], h["rows"], h["created"], h["updated"], h["unchanged"]) for h in history] == [
        ("contact-points", 3, 2, 1, 0),
        ("contact-points", 3, 0, 0, 3),
    ]
    digest = hashlib.sha256((FILES / "contact_points.csv").read_bytes()).digest()
    assert {bytes(h["file_sha256"]) for h in history} == {digest}
    assert {(h["actor"], h["actor_role"]) for h in history} == {("cli:tester", "cli")}
    assert history[0]["id"] == report.import_id


async def test_gbk_csv_from_chinese_excel(conn: asyncpg.Connection) -> None:
    report = await run(conn, "contact-points", "contact_points_gbk.csv", apply=True)
    assert report.encoding == "gb18030" and counts(report) == (2, 0, 0, 0)
    assert (await point(conn, "CP310106-90021"))["name"] == "静安寺商圈消费维权联络点"  # type: ignore[index]


async def test_bom_and_english_headers(conn: asyncpg.Connection) -> None:
    report = await run(conn, "contact-points", "contact_points_bom.csv", apply=True)
    assert counts(report) == (2, 0, 0, 0)
    first = await point(conn, "CP310105-90011")
    assert first is not None and first["code"] == "CP310105-90011" and first["host_kind"] == "school"


async def test_bad_rows_each_named_and_nothing_written(conn: asyncpg.Connection) -> None:
    report = await run(conn, "contact-points", "contact_points_bad.csv", apply=True)
    assert not report.applied
    found = reasons(report)
    assert 2 not in found and 3 not in found  # full-width digits and an Excel serial date read fine
    assert found[4] == [("区代码", "district code 310199 is not known")]
    assert found[5] == [("联络点编号", "the same key as row 3 above")]
    assert found[6] == [("联络点名称", "a formula, not a value: save the sheet with its values")]
    assert found[7][0][0] == "设立日期" and "not a date of the calendar" in found[7][0][1]
    assert found[8] == [("区代码", "the code CP310104-90036 belongs to district 310104")]
    assert sorted(c for c, _ in found[9]) == ["类型", "联络点名称"]
    assert report.rejected_rows == 6 and report.rows == 8
    assert await point(conn, "CP310101-90031") is None
    assert await conn.fetchval("SELECT count(*) FROM import_run") == 0


async def test_full_width_and_serial_dates_when_the_rest_is_good(conn: asyncpg.Connection) -> None:
    lines = (FILES / "contact_points_bad.csv").read_text().splitlines()
    report = await run(conn, "contact-points", "\n".join(lines[:3]).encode(), apply=True)
    assert report.applied and counts(report) == (2, 0, 0, 0)
    assert (await point(conn, "CP310101-90031"))["established_on"] == datetime.date(2020, 9, 28)  # type: ignore[index]
    assert (await point(conn, "CP310101-90032"))["established_on"] == datetime.date(2020, 9, 28)  # type: ignore[index]


async def test_awards_stars_upgrade_and_honours(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "DELETE FROM star_award WHERE contact_point_id IN"
        " (SELECT id FROM contact_point WHERE code LIKE 'CP310101-0000_')"
        " AND id NOT IN (SELECT upgraded_from_id FROM star_award WHERE upgraded_from_id IS NOT NULL)"
    )
    report = await run(conn, "awards", "awards.csv", apply=True)
    assert report.applied and report.rejected_rows == 0 and report.rows == 4
    awards = await conn.fetch(
        "SELECT a.id, a.batch, a.stars, a.awarded_on, a.upgraded_from_id FROM star_award a"
        " JOIN contact_point p ON p.id = a.contact_point_id WHERE p.code = 'CP310101-00001' ORDER BY a.batch"
    )
    assert [(a["batch"], a["stars"], a["awarded_on"]) for a in awards] == [
        (1, 4, datetime.date(2019, 3, 15)),  # no date given: its batch's
        (2, 5, datetime.date(2020, 9, 28)),
    ]
    assert awards[1]["upgraded_from_id"] == awards[0]["id"]
    honours = await conn.fetch(
        "SELECT p.code, h.honour, h.awarded_on FROM contact_point_honour h JOIN contact_point p"
        " ON p.id = h.contact_point_id WHERE p.code IN ('CP310101-00002', 'CP310101-00003') ORDER BY 1"
    )
    assert [tuple(h) for h in honours] == [
        ("CP310101-00002", "municipal_demonstration", datetime.date(2021, 3, 15)),
        ("CP310101-00003", "pudong_hundred_best", datetime.date(2021, 3, 15)),
    ]
    again = await run(conn, "awards", "awards.csv", apply=True)
    assert counts(again) == (0, 0, 4, 0)


async def test_awards_bad_rows(conn: asyncpg.Connection) -> None:
    report = await run(conn, "awards", "awards_bad.csv")
    found = reasons(report)
    assert found[2] == [("联络点编号", "contact point CP310101-99999 is not known")]
    assert found[3] == [("批次", "batch 9 is not known")]
    assert found[4][0][0] == "星级/荣誉" and "is not a star rating or honour" in found[4][0][1]
    assert found[5] == [("批次", "a star rating is awarded in a batch")]
    assert found[7] == [("联络点编号", "the same key as row 6 above")]
    assert report.rejected_rows == 5


async def test_memberships(conn: asyncpg.Connection) -> None:
    last = await conn.fetchval("SELECT max(id) FROM programme_membership")
    report = await run(conn, "memberships", "memberships.csv", apply=True)
    assert report.applied and counts(report) == (3, 0, 0, 0)
    rows = await conn.fetch(
        "SELECT programme_code, level, odr_class, committed_days, started_on, ended_on FROM programme_membership"
        " WHERE id > $1 ORDER BY started_on",
        last,
    )
    assert [tuple(r) for r in rows] == [
        ("reassured_consumption", "excellent", None, None, datetime.date(2021, 1, 1), None),
        ("odr", None, "A", None, datetime.date(2021, 2, 1), None),
        ("offline_no_reason_return", None, None, 15, datetime.date(2021, 2, 3), datetime.date(2022, 2, 2)),
    ]
    changed = (FILES / "memberships.csv").read_text().replace("优秀", "达标").encode()
    again = await run(conn, "memberships", changed, apply=True)
    assert counts(again) == (0, 1, 2, 0)
    assert await conn.fetchval("SELECT level FROM programme_membership WHERE id = $1 + 1", last) == "compliant"


async def test_memberships_bad_rows(conn: asyncpg.Connection) -> None:
    report = await run(conn, "memberships", "memberships_bad.csv")
    found = reasons(report)
    assert found[2] == [("等级", "reassured consumption, and only it, has a level (优秀/达标/承诺)")]
    assert found[3] == [("联络点编号", "a member is a contact point or an enterprise: give exactly one code")]
    assert found[4] == [("承诺天数", "members commit to at least 7 days")]
    assert found[5] == [("统一社会信用代码", "enterprise 91310115MA16BD9Y99 is not known")]
    assert found[6] == [("结束日期", "ends before it starts")]


async def test_cases_are_history_with_their_events(conn: asyncpg.Connection) -> None:
    report = await run(conn, "cases", "cases.csv", apply=True)
    assert report.applied and counts(report) == (3, 0, 0, 0)
    settled = await conn.fetchrow("SELECT * FROM \"case\" WHERE number = 'C310101-2021-900001'")
    assert settled["status"] == "settled" and settled["consumer_phone"] == "13800138000"
    assert settled["opened_at"] == datetime.datetime(2021, 3, 1, 2, 0, tzinfo=datetime.UTC)
    events = await conn.fetch(
        "SELECT kind, status, actor, actor_role FROM case_event WHERE case_id = $1 ORDER BY id", settled["id"]
    )
    assert [(e["kind"], e["status"]) for e in events] == [
        ("opened", "received"),
        ("accepted", "accepted"),
        ("mediation_started", "mediating"),
        ("settled", "settled"),
    ]
    assert {(e["actor"], e["actor_role"]) for e in events} == {("cli:tester", "cli")}
    transferred = await conn.fetchval(
        "SELECT array_agg(kind ORDER BY id) FROM case_event WHERE case_id ="
        " (SELECT id FROM \"case\" WHERE number = 'C310101-2021-900003')"
    )
    assert transferred == ["opened", "transferred"]
    assert await check_summaries(conn) == []
    counter = await conn.fetchval("SELECT last FROM case_number_counter WHERE district_code = '310101' AND year = 2021")
    assert counter >= 900003
    again = await run(conn, "cases", "cases.csv", apply=True)
    assert counts(again) == (0, 0, 3, 0)


async def test_case_changes_follow_the_lifecycle_and_are_audited(conn: asyncpg.Connection) -> None:
    await run(conn, "cases", "cases.csv", apply=True)
    text = (FILES / "cases.csv").read_text()
    accepted_to_mediating = text.replace("其他,已受理", "其他,调解中")
    report = await run(conn, "cases", accepted_to_mediating.encode(), apply=True)
    assert report.applied and counts(report) == (0, 1, 2, 0)
    case = await conn.fetchrow("SELECT id, status, version FROM \"case\" WHERE number = 'C310101-2021-900002'")
    assert (case["status"], case["version"]) == ("mediating", 2)
    last = await conn.fetchrow("SELECT * FROM case_event WHERE case_id = $1 ORDER BY id DESC LIMIT 1", case["id"])
    assert (last["kind"], last["actor_credential"], last["actor_role"], last["note"]) == (
        "mediation_started",
        "cli:tester",
        "cli",
        "imported",
    )
    assert await check_summaries(conn) == []


async def test_cases_bad_rows(conn: asyncpg.Connection) -> None:
    report = await run(conn, "cases", "cases_bad.csv", apply=True)
    assert not report.applied
    found = reasons(report)
    assert found[2] == [("消费者电话", "not a mobile number: 11 digits starting 13 to 19")]
    assert "12345" not in str(report.as_json())  # personal data is not echoed
    assert found[3] == [("联络点编号", "contact point CP310101-99999 is not known")]
    assert found[4] == [("案件编号", "the number is of district 310104, the contact point of district 310101")]
    assert found[5][0][0] == "办结时间"
    assert found[6][0][0] == "案件编号" and "year" in found[6][0][1]
    assert found[7] == [("状态", "case C310115-2014-000001 cannot go from settled to accepted in one step")]
    assert found[8][0][0] == "诉求金额"
    assert await conn.fetchval("SELECT count(*) FROM \"case\" WHERE number LIKE 'C310101-2021-9%'") == 0


async def test_all_or_nothing_when_one_row_fails(conn: asyncpg.Connection) -> None:
    good = (FILES / "contact_points.csv").read_text()
    bad = good + "CP310101-90009,坏行,310101,外滩街道,企业,某路,not a date,是,否\n"
    report = await run(conn, "contact-points", bad.encode(), apply=True)
    assert not report.applied and report.rejected_rows == 1 and report.created == 2
    assert await point(conn, "CP310101-90001") is None
    assert await conn.fetchval("SELECT count(*) FROM import_run") == 0


async def test_rows_outside_a_case_officers_districts(conn: asyncpg.Connection) -> None:
    report = await run(conn, "contact-points", "contact_points.csv", scope=Scope(("310101",)))
    assert reasons(report) == {4: [("联络点编号", "outside your districts (310104)")]}


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "MISSING_COLUMNS"),
        ("名称,地址\nx,y\n".encode(), "MISSING_COLUMNS"),
        (b"PK\x03\x04 not really a workbook", "UNREADABLE_FILE"),
        (b"\xff\xfe\x00\x00binary", "UNREADABLE_FILE"),
        ("联络点编号,名称\n".encode("utf-16"), "UNREADABLE_FILE"),
    ],
)
async def test_files_refused_whole(conn: asyncpg.Connection, data: bytes, code: str) -> None:
    with pytest.raises(ImportRefused) as refused:
        await run(conn, "contact-points", data)
    assert refused.value.code == code


async def test_a_later_line_in_another_encoding_refuses_the_file(conn: asyncpg.Connection) -> None:
    good = (FILES / "contact_points.csv").read_bytes()
    filler = b"".join(b"CP310101-%05d,x,310101,y,shop,z,2020-01-01,,\n" % n for n in range(30_000, 60_000))
    data = good + filler + "CP310101-99998,静安,310101,街道,商铺,路,2020-01-01,,\n".encode("gbk")
    with pytest.raises(ImportRefused) as refused:
        await run(conn, "contact-points", data, apply=True)
    assert refused.value.code == "UNREADABLE_FILE" and "utf-8" in str(refused.value)
    assert await point(conn, "CP310101-30000") is None


async def test_many_rows_in_chunks(conn: asyncpg.Connection) -> None:
    header = "联络点编号,联络点名称,区代码,街镇,类型,地址,设立日期\n"
    rows = "".join(
        f"CP310117-{n:05d},松江{n},310117,方松街道,商铺,松江路{n}号,2021-01-01\n" for n in range(80_000, 92_000)
    )
    report = await run(conn, "contact-points", (header + rows).encode(), apply=True)
    assert report.applied and report.created == 12_000
    again = await run(conn, "contact-points", (header + rows).encode())
    assert counts(again) == (0, 0, 12_000, 0)


def test_each_kind_stages_its_fields_in_order() -> None:
    """The mapping (resolvers) and its staging table (db) name the same fields."""
    from db.imports import KINDS as STAGED
    from resolvers.imports import KINDS

    assert set(KINDS) == set(STAGED)
    for name, kind in KINDS.items():
        assert [f.name for f in kind.fields] == [column for column, _ in STAGED[name].staging]


def test_the_readme_documents_each_mapping() -> None:
    from resolvers.imports import KINDS

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    for kind in KINDS.values():
        for f in kind.fields:
            line = f"| `{f.name}` | {' · '.join(f.zh)} | {' · '.join(f.en)} | {'yes' if f.required else ''} |"
            assert line in readme, line


async def test_rejections_listed_up_to_a_bound_and_counted_in_all(
    conn: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from resolvers.imports import importing

    monkeypatch.setattr(importing, "KEPT_REJECTIONS", 5)
    header = "联络点编号,联络点名称,区代码,街镇,类型,地址,设立日期\n"
    row = "CP310117-80000,松江,310117,方松街道,商铺,松江路,2021-01-01\n"
    bad = "CP310117-80001,松江,310117,方松街道,商铺,松江路,not a date\n"
    report = await run(conn, "contact-points", (header + row * 20 + bad * 10).encode())
    assert report.rejected_rows == 29 and len(report.rejected) == 5
    assert [r.row for r in report.rejected] == [22, 23, 24, 25, 26]  # the reader's faults come first


CASE_HEADER = "number,contact_point_code,kind,channel,category,status,opened_at,closed_at,amount_claimed\n"
CASE_ROW = "C310101-2021-900021,CP310101-00001,投诉,现场,产品质量,和解成功,2021/3/1 10:00,2021/3/5 10:00,"


async def test_a_row_with_more_or_fewer_cells_than_the_header_is_rejected(conn: asyncpg.Connection) -> None:
    """An unquoted ``¥1,200.50`` splits into two cells: read by position, the amount was ¥1."""
    longer = CASE_ROW + "¥1,200.50\n"
    shorter = CASE_ROW.replace("2021-900021", "2021-900022")[:-1] + "\n"  # no amount cell at all
    report = await run(conn, "cases", (CASE_HEADER + longer + shorter).encode(), apply=True)
    assert not report.applied and report.rejected_rows == 2
    assert [(r.row, r.code) for r in report.rejected] == [(2, "EXTRA_CELLS"), (3, "MISSING_CELLS")]
    assert "10 cells" in report.rejected[0].reason and "9" in report.rejected[0].reason
    assert report.as_json()["rejected"][0]["code"] == "EXTRA_CELLS"
    assert await conn.fetchval("SELECT count(*) FROM \"case\" WHERE number LIKE 'C310101-2021-90002%'") == 0


async def test_a_quoted_amount_with_yuan_sign_and_separators_reads_exactly(conn: asyncpg.Connection) -> None:
    report = await run(conn, "cases", (CASE_HEADER + CASE_ROW + '"¥1,200.50"\n').encode(), apply=True)
    assert report.applied and report.rejected_rows == 0
    claimed = await conn.fetchval("SELECT amount_claimed FROM \"case\" WHERE number = 'C310101-2021-900021'")
    assert str(claimed) == "1200.50"


@pytest.mark.parametrize("written", ["1,2", "12,34.5", "1_000", "1e3", "NaN", "Infinity", "١٠٠", "+5", "--1", "¥"])
def test_amounts_are_plain_decimals(written: str) -> None:
    from resolvers.imports.values import Invalid, amount

    with pytest.raises(Invalid):
        amount(written)


@pytest.mark.parametrize(
    ("written", "read"),
    [("1200.5", "1200.50"), ("1,200.50", "1200.50"), ("¥300", "300.00"), ("300元", "300.00"), ("１２", "12.00")],
)
def test_amounts_read_exactly(written: str, read: str) -> None:
    from resolvers.imports.values import amount

    assert str(amount(written)) == read
