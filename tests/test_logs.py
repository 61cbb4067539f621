"""Logs: one JSON object per line, one line per request with its facts, no personal data."""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from api.logs import configure_logging, log_fields

from .support import bearer, live_service
from .writes_support import NAME, PHONE, PUDONG_POINT, document, intake

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_every_line_is_json_and_none_holds_personal_data(db_dsn: str, tmp_path: Path) -> None:
    staff = bearer("contact_point", contactPoints=[PUDONG_POINT])  # tokens live 5 minutes: made now
    with live_service(db_dsn, tmp_path) as base:
        graphql = f"{base}/graphql"
        query = {"query": "query Regions { regions { code } }", "operationName": "Regions"}
        headers = {
            "X-Request-ID": "log-query",
            "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
            **bearer("internal"),
        }
        assert httpx2.post(graphql, json=query, headers=headers).status_code == 200
        opened = httpx2.post(
            graphql,
            json={"query": document("caseOpen"), "variables": {"input": intake()}},
            headers={"X-Request-ID": "log-open", **staff},
        ).json()
        assert opened["data"]["caseOpen"]["userErrors"] == [], opened
        mistyped = {"query": document("caseOpen"), "variables": {"input": intake(consumerPhone=int(PHONE))}}
        refused = httpx2.post(graphql, json=mistyped, headers={"X-Request-ID": "log-mistyped", **staff}).json()
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        inline = document("caseOpen").replace("$input", "$unused") + f" # {NAME}"  # a literal in a comment
        httpx2.post(graphql, json={"query": inline}, headers={"X-Request-ID": "log-invalid", **staff})
        by_get = {
            "query": "query Point($p: String!) { contactPoint(code: $p) { name } }",
            "variables": json.dumps({"p": PHONE}),
        }
        httpx2.get(graphql, params=by_get, headers={"X-Request-ID": "log-get"})
        log_path = next(tmp_path.glob("serve-*.log"))
    text = log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # each line is JSON
    assert PHONE not in text and NAME not in text
    assert PHONE not in json.dumps(lines) and NAME not in json.dumps(lines)  # nor escaped
    access = {line["request_id"]: line for line in lines if line["logger"] == "liaison.access"}
    query_line = access["log-query"]
    assert query_line["trace_id"] == TRACE_ID
    assert query_line["operation"] == "Regions"
    assert query_line["execution"] == "compiled"
    assert query_line["status"] == 200
    assert query_line["cost"] > 0
    assert query_line["credential"] == "token:test-user"
    assert query_line["duration_ms"] > 0
    assert query_line["level"] == "INFO" and query_line["time"]
    assert access["log-open"]["operation_type"] == "mutation"
    assert access["log-open"]["execution"] == "dataloader"
    assert access["log-mistyped"]["errors"] == ["BAD_USER_INPUT"]
    assert access["log-get"]["path"] == "/graphql"  # without its query string
    assert access["log-get"]["operation"] == "Point"
    assert {line["logger"] for line in lines} >= {"liaison.access", "uvicorn.error"}  # uvicorn's own, as JSON too


@contextlib.contextmanager
def json_logging() -> Iterator[None]:
    """The process's logging as ``liaison`` sets it up in the JSON format, on the stderr of
    the moment (capfd's, once the test runs)."""
    root = logging.getLogger()
    kept = root.handlers[:], root.level
    try:
        configure_logging("json")
        yield
    finally:
        root.handlers[:], level = kept
        root.setLevel(level)


FIELDS = {"request_id": "r1", "trace_id": None, "status": 200, "duration_ms": 1.25, "errors": ["X"], "cost": 6}


def test_a_line_written_straight_is_the_line_logging_writes(capfd: pytest.CaptureFixture[str]) -> None:
    access = logging.getLogger("liaison.access")
    with json_logging():
        access.info("POST /graphql 200", extra=FIELDS)
        log_fields(access, "POST /graphql 200", FIELDS)
    through_logging, straight = (json.loads(line) for line in capfd.readouterr().err.splitlines())
    assert list(straight) == list(through_logging)  # the same keys, in the same order
    assert datetime.datetime.fromisoformat(straight.pop("time")).utcoffset() == datetime.timedelta(0)
    through_logging.pop("time")
    assert (
        straight
        == through_logging
        == {"level": "INFO", "logger": "liaison.access", "message": "POST /graphql 200", **FIELDS}
    )


def test_a_line_goes_through_logging_where_anything_else_would_see_it(capfd: pytest.CaptureFixture[str]) -> None:
    access, seen = logging.getLogger("liaison.access"), Collected()
    with json_logging():
        logging.getLogger("liaison").addHandler(seen)  # an embedding application's own handler
        try:
            log_fields(access, "GET /healthz 200", FIELDS)
        finally:
            logging.getLogger("liaison").removeHandler(seen)
    (record,) = seen.records
    assert record.getMessage() == "GET /healthz 200" and record.request_id == "r1"  # type: ignore[attr-defined]
    assert json.loads(capfd.readouterr().err)["request_id"] == "r1"  # and on stderr, through the JSON handler
    access.setLevel(logging.WARNING)
    try:
        with json_logging():
            log_fields(access, "GET /healthz 200", FIELDS)
    finally:
        access.setLevel(logging.NOTSET)
    assert capfd.readouterr().err == ""  # a logger turned down writes nothing


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_text_lines_for_people(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    kept = root.handlers[:], root.level
    try:
        configure_logging("text")
        logging.getLogger("liaison.access").info("POST /graphql 200", extra={"request_id": "r1", "cost": 6})
    finally:
        root.handlers[:], level = kept
        root.setLevel(level)
    line = capsys.readouterr().err.strip()
    assert line.endswith("INFO liaison.access: POST /graphql 200 request_id=r1 cost=6")
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
