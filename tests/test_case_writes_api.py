"""Case intake and mediation through the API: the lifecycle, the codes, the roles, the reads.

Each test writes into its own copy of the demo database; the service runs in verify mode,
so every read after a write is answered by both execution paths and compared.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import asyncpg
import pytest
from starlette.testclient import TestClient

from db import saved
from db.access import Role
from schema.case_write import CaseErrorCode

from .support import bearer, data, gql, service, token
from .writes_support import (
    HUANGPU_POINT,
    NAME,
    OTHER_PUDONG_POINT,
    PHONE,
    PUDONG_POINT,
    counts,
    document,
    intake,
    ok,
    payload,
    write,
)

STAFF: dict[str, Any] = {"contactPoints": [PUDONG_POINT]}
CLAIMS: dict[Role, dict[str, Any]] = {
    Role.PARTNER: {"regions": ["330000"]},
    Role.INTERNAL: {},
    Role.CASE_OFFICER: {"districts": ["310115"]},
    Role.ADMIN: {},
    Role.CONTACT_POINT: STAFF,
}


def as_role(client: TestClient, role: Role | None) -> None:
    client.headers.pop("Authorization", None)
    if role is not None and role is not Role.ANONYMOUS:
        client.headers.update(bearer(role.value, **CLAIMS[role]))


@pytest.fixture
def client(db_dsn: str) -> Iterator[TestClient]:
    with service(db_dsn, role=None, LIAISON_REOPEN_DAYS="36500") as test_client:
        as_role(test_client, Role.CONTACT_POINT)
        yield test_client


async def save(dsn: str, name: str, document: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await saved.save(conn, name, document, name, "tests")
    finally:
        await conn.close()


def codes(result: dict[str, Any]) -> list[str]:
    return [e["code"] for e in result["userErrors"]]


def opened(client: TestClient, **overrides: Any) -> dict[str, Any]:
    return ok(client, "caseOpen", **intake(**overrides))["case"]


def test_a_case_is_opened_mediated_and_settled(client: TestClient) -> None:
    case = opened(client)
    assert case["number"].startswith("C310115-") and case["status"] == "RECEIVED" and case["version"] == 1
    assert (case["consumerName"], case["consumerPhone"], case["amountClaimed"]) == (NAME, PHONE, "399.00")
    number = case["number"]
    accepted = ok(client, "caseAccept", number=number, expectedVersion=1, note="called the shop")
    assert accepted["case"]["version"] == 2
    assert accepted["event"]["kind"] == "ACCEPTED" and accepted["event"]["note"] == "called the shop"
    ok(client, "caseStartMediation", number=number, expectedVersion=2)
    ok(client, "caseAddNote", number=number, expectedVersion=3, note="the shop offers a refund")
    settled = ok(client, "caseSettle", number=number, expectedVersion=4, amountRecovered="399.00")
    assert settled["case"]["status"] == "SETTLED" and settled["case"]["closedAt"] is not None
    assert settled["case"]["amountRecovered"] == "399.00" and settled["case"]["version"] == 5
    assert settled["event"]["changes"] == [  # the fields of Case, in its terms
        {"field": "amountRecovered", "before": None, "after": "399.00"},
        {"field": "closedAt", "before": None, "after": settled["case"]["closedAt"]},
        {"field": "status", "before": "MEDIATING", "after": "SETTLED"},
    ]
    history = data(client, "query ($n: String!) { case(number: $n) { events { kind actorRole } } }", n=number)
    kinds = [e["kind"] for e in history["case"]["events"]]
    assert kinds == ["OPENED", "ACCEPTED", "MEDIATION_STARTED", "NOTE_ADDED", "SETTLED"]
    assert {e["actorRole"] for e in history["case"]["events"]} == {"contact_point"}


LIFECYCLE_STEPS = {
    "caseAccept": ({"received": "accepted"}, {}),
    "caseStartMediation": ({"accepted": "mediating"}, {}),
    "caseSettle": ({"mediating": "settled"}, {}),
    "caseCloseUnsettled": ({"mediating": "not_settled"}, {"reason": "the shop refuses"}),
    "caseTransfer": (
        {"received": "transferred", "accepted": "transferred", "mediating": "transferred"},
        {"to": "PLATFORM_12315", "reason": "beyond mediation"},
    ),
    "caseReopen": (
        {"settled": "mediating", "not_settled": "mediating", "transferred": "accepted"},
        {"reason": "the consumer came back"},
    ),
}
STATUSES = ("received", "accepted", "mediating", "settled", "not_settled", "transferred")
CLOSED = {"settled", "not_settled", "transferred"}


@pytest.mark.parametrize("mutation", list(LIFECYCLE_STEPS))
async def test_every_step_from_every_status(db_dsn: str, client: TestClient, mutation: str) -> None:
    """Legal steps change the status; a step whose target holds is a no-op; the rest are refused.
    Reopening an open case is refused, and a transfer is a no-op only when it repeats the
    case's own last transfer (below): the status alone does not say the same step was taken."""
    legal, extra = LIFECYCLE_STEPS[mutation]
    targets = set(legal.values()) if mutation not in ("caseReopen", "caseTransfer") else set()
    as_role(client, Role.ADMIN)
    conn = await asyncpg.connect(db_dsn)
    try:
        for status in STATUSES:
            number, version = await conn.fetchrow(
                'SELECT number, version FROM "case" WHERE status = $1 ORDER BY id LIMIT 1', status
            )
            result = payload(client, mutation, number=number, expectedVersion=version, **extra)
            if status in legal:
                assert codes(result) == [], (status, result)
                assert result["case"]["status"] == legal[status].upper() and result["case"]["version"] == version + 1
            elif status in targets:
                assert codes(result) == [] and result["event"] is None, (status, result)  # a no-op
                assert result["case"]["version"] == version
            else:
                expected = "CASE_CLOSED" if status in CLOSED and mutation != "caseReopen" else "ILLEGAL_TRANSITION"
                assert codes(result) == [expected], (status, result)
                assert await conn.fetchval('SELECT version FROM "case" WHERE number = $1', number) == version
    finally:
        await conn.close()


def bad_inputs(number: str, version: int, closed: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """One refused write per code: the mutation and its input."""
    step = {"number": number, "expectedVersion": version}
    return {
        "UNKNOWN_CONTACT_POINT": ("caseOpen", intake(contactPoint="CP310115-99999")),
        "UNKNOWN_ENTERPRISE": ("caseOpen", intake(respondent="91310115MA00000000")),
        "OUT_OF_SCOPE": ("caseOpen", intake(contactPoint=OTHER_PUDONG_POINT)),
        "CASE_NOT_FOUND": ("caseAccept", {"number": "C310115-2020-999999", "expectedVersion": 1}),
        "INVALID_PHONE": ("caseOpen", intake(consumerPhone="12987654321")),
        "INVALID_NAME": ("caseOpen", intake(consumerName="名" * 41)),
        "NEGATIVE_AMOUNT": ("caseOpen", intake(amountClaimed="-1.00")),
        "INVALID_AMOUNT": ("caseOpen", intake(amountClaimed="10.001")),
        "RECOVERED_WITHOUT_CLAIM": ("caseSettle", {**step, "amountRecovered": "10.00"}),
        "OPENED_IN_FUTURE": ("caseOpen", intake(openedAt="2099-01-01T00:00:00Z")),
        "OPENED_TOO_EARLY": ("caseOpen", intake(openedAt="2020-01-01T00:00:00Z")),
        "ILLEGAL_TRANSITION": ("caseSettle", {**step}),
        "CASE_CLOSED": ("caseAddNote", {"number": closed, "expectedVersion": 1, "note": "late"}),
        "STALE_VERSION": ("caseAddNote", {"number": number, "expectedVersion": version + 7, "note": "x"}),
        "INVALID_IDEMPOTENCY_KEY": ("caseOpen", intake(idempotencyKey="k" * 256)),
        "NOTE_REQUIRED": ("caseAddNote", {**step, "note": "  "}),
        "TEXT_TOO_LONG": ("caseOpen", intake(summary="x" * 2001)),
    }


OFFICER_INPUTS = {
    "REASON_REQUIRED": ("caseCorrect", {"kind": "CONSULTATION", "reason": ""}),
    "TRANSFER_TARGET": ("caseTransfer", {"to": "CONTACT_POINT", "reason": "closer to the consumer"}),
    "NOTHING_TO_CORRECT": ("caseCorrect", {"reason": "no reason"}),
    "REOPEN_WINDOW_PASSED": ("caseReopen", {"reason": "the consumer came back"}),
}


async def test_every_user_error_code_writes_nothing(db_dsn: str) -> None:
    with service(db_dsn, role=None) as client:
        as_role(client, Role.CONTACT_POINT)
        case = ok(client, "caseOpen", **intake(amountClaimed=None, respondent=None))["case"]
        conn = await asyncpg.connect(db_dsn)
        closed = await conn.fetchval(
            'SELECT c.number FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id'
            " WHERE p.code = $1 AND c.status = 'settled' AND c.version = 1 LIMIT 1",
            PUDONG_POINT,
        )
        old = await conn.fetchval(
            "SELECT number FROM \"case\" WHERE status = 'settled' AND number LIKE 'C310115-%' ORDER BY closed_at LIMIT 1"
        )
        await conn.close()
        tried = set()
        before = await counts(db_dsn)
        for code, (mutation, values) in bad_inputs(case["number"], 1, closed).items():
            result = payload(client, mutation, **values)
            assert codes(result) == [code], (code, result)
            assert result["case"] is None and result["event"] is None
            assert result["userErrors"][0]["field"][0] == "input"
            tried.add(code)
        as_role(client, Role.CASE_OFFICER)
        for code, (mutation, values) in OFFICER_INPUTS.items():
            number = old if mutation == "caseReopen" else case["number"]
            result = payload(client, mutation, number=number, expectedVersion=1, **values)
            assert codes(result) == [code], (code, result)
            tried.add(code)
        assert await counts(db_dsn) == before
    # INVALID_TEXT: test_text_that_is_not_unicode_is_refused_with_its_field (httpx cannot send it as JSON here).
    assert tried == {c.value for c in CaseErrorCode} - {"INVALID_INPUT", "IDEMPOTENCY_KEY_REUSED", "INVALID_TEXT"}


@pytest.mark.parametrize(
    ("opened_at", "code"),
    [
        ("0001-01-01T00:00:00Z", "OPENED_TOO_EARLY"),  # asyncpg's -infinity
        ("9999-12-31T23:59:59.999999Z", "OPENED_IN_FUTURE"),  # and +infinity
        ("0001-01-01T00:00:00+08:00", "BAD_USER_INPUT"),  # before year 1 in UTC
        ("2026-12-01T10:00:00", "BAD_USER_INPUT"),  # Shanghai's local time would be read as UTC
        ("2026-12-01", "BAD_USER_INPUT"),
    ],
)
def test_an_opening_instant_at_the_edges_is_refused_with_a_code(client: TestClient, opened_at: str, code: str) -> None:
    body = gql(
        client,
        "mutation ($input: CaseOpenInput!) { caseOpen(input: $input) { case { number } userErrors { code } } }",
        input=intake(openedAt=opened_at),
    )
    if code == "BAD_USER_INPUT":
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
        assert "offset" in body["errors"][0]["message"] or "years 1 to 9999" in body["errors"][0]["message"], body
    else:
        assert "errors" not in body, body
        assert codes(body["data"]["caseOpen"]) == [code]


AMOUNT_ONLY = (
    "mutation ($input: CaseOpenInput!) { caseOpen(input: $input) { case { amountClaimed } userErrors { code } } }"
)


@pytest.mark.parametrize(
    "claimed",
    ["1_000", "\uff11\uff10\uff10", "\u0661\u0660\u0660", "1e3", "NaN", "Infinity", "-Infinity", ".", "1.2.3"],
)
def test_a_decimal_outside_xs_decimals_lexical_form_is_refused(client: TestClient, claimed: str) -> None:
    """``Decimal`` names xs:decimal: Python's Decimal also reads ``_``, other scripts' digits,
    exponents and NaN, which no client of xs:decimal writes or expects to be taken."""
    body = gql(client, AMOUNT_ONLY, input=intake(amountClaimed=claimed))
    assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body


@pytest.mark.parametrize(
    ("claimed", "read"), [("+5", "5.00"), (" 100 ", "100.00"), (".5", "0.50"), ("1.", "1.00"), (100, "100.00")]
)
def test_a_decimal_in_xs_decimals_lexical_form_is_taken(client: TestClient, claimed: object, read: str) -> None:
    """A sign and white space around the number (collapsed, as xs:decimal's facet says) are
    allowed; a JSON number is taken as its value."""
    body = gql(client, AMOUNT_ONLY, input=intake(amountClaimed=claimed))
    assert body["data"]["caseOpen"]["case"]["amountClaimed"] == read, body


def test_a_stale_version_is_refused_with_the_current_one(client: TestClient) -> None:
    number = opened(client)["number"]
    ok(client, "caseAccept", number=number, expectedVersion=1)
    stale = payload(client, "caseAddNote", number=number, expectedVersion=1, note="seen at version 1")
    assert stale["userErrors"][0]["code"] == "STALE_VERSION"
    assert stale["userErrors"][0]["currentVersion"] == 2
    assert stale["userErrors"][0]["field"] == ["input", "expectedVersion"]


def test_a_retry_with_the_same_key_returns_the_first_result(client: TestClient, db_dsn: str) -> None:
    first = write(client, "caseOpen", **intake(idempotencyKey="intake-42"))
    again = write(client, "caseOpen", **intake(idempotencyKey="intake-42"))
    assert "idempotentReplay" not in first["extensions"] and again["extensions"]["idempotentReplay"] is True
    assert again["data"]["caseOpen"]["case"]["number"] == first["data"]["caseOpen"]["case"]["number"]
    assert again["data"]["caseOpen"]["event"] == first["data"]["caseOpen"]["event"]
    reused = payload(client, "caseOpen", **intake(idempotencyKey="intake-42", amountClaimed="1.00"))
    assert codes(reused) == ["IDEMPOTENCY_KEY_REUSED"] and reused["userErrors"][0]["field"] == [
        "input",
        "idempotencyKey",
    ]
    number = first["data"]["caseOpen"]["case"]["number"]
    header = {"Idempotency-Key": "accept-1"}
    accept = write(client, "caseAccept", headers=header, number=number, expectedVersion=1)
    replay = write(client, "caseAccept", headers=header, number=number, expectedVersion=1)
    assert replay["extensions"]["idempotentReplay"] is True
    assert replay["data"]["caseAccept"]["event"] == accept["data"]["caseAccept"]["event"]
    batch = client.post(
        "/graphql",
        json=[{"query": document("caseAddNote"), "variables": {"input": {"number": number, "expectedVersion": 2}}}] * 2,
        headers=header,
    )
    assert batch.status_code == 400 and batch.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    two = "mutation ($i: CaseAddNoteInput!) { a: caseAddNote(input: $i) { event { kind } } b: caseAddNote(input: $i) { event { kind } } }"
    values = {"number": number, "expectedVersion": 2, "note": "twice"}
    both = client.post("/graphql", json={"query": two, "variables": {"i": values}}, headers=header).json()
    assert {e["extensions"]["code"] for e in both["errors"]} == {"BAD_USER_INPUT"} and both["data"] == {
        "a": None,
        "b": None,
    }


@pytest.mark.parametrize(
    ("header", "key", "why"),
    [
        ("hdr-1", "inp-1", "differ"),  # which one keys the write? refused, not guessed
        ("", None, "printable ASCII"),  # an empty header is a key that is wrong, not no key
        (None, "键-1", "printable ASCII"),  # the header's rule for the input field too
    ],
)
async def test_an_unusable_idempotency_key_writes_nothing(
    client: TestClient, db_dsn: str, header: str | None, key: str | None, why: str
) -> None:
    before = await counts(db_dsn)
    body = write(
        client,
        "caseOpen",
        headers=None if header is None else {"Idempotency-Key": header},
        **intake(**({} if key is None else {"idempotencyKey": key})),
    )
    result = body["data"]["caseOpen"]
    assert codes(result) == ["INVALID_IDEMPOTENCY_KEY"] and why in result["userErrors"][0]["message"], body
    assert await counts(db_dsn) == before


def test_the_same_key_in_the_header_and_the_input_is_one_key(client: TestClient) -> None:
    first = write(client, "caseOpen", headers={"Idempotency-Key": "both-1"}, **intake(idempotencyKey="both-1"))
    again = write(client, "caseOpen", headers={"Idempotency-Key": "both-1"}, **intake())
    assert first["data"]["caseOpen"]["userErrors"] == [] and again["extensions"]["idempotentReplay"] is True


def test_a_stale_version_is_said_before_an_illegal_step(client: TestClient) -> None:
    """A client that read an old version cannot tell what the case allows now: it is told to read again."""
    number = opened(client)["number"]
    ok(client, "caseAccept", number=number, expectedVersion=1)
    ok(client, "caseStartMediation", number=number, expectedVersion=2)
    stale = payload(client, "caseAccept", number=number, expectedVersion=1)
    assert codes(stale) == ["STALE_VERSION"] and stale["userErrors"][0]["currentVersion"] == 3
    assert codes(payload(client, "caseAccept", number=number, expectedVersion=3)) == ["ILLEGAL_TRANSITION"]


def test_a_refusal_does_not_echo_unbounded_input(client: TestClient) -> None:
    long = "C310115-2020-" + "9" * 100_000
    for mutation, values in (
        ("caseAccept", {"number": long, "expectedVersion": 1}),
        ("caseOpen", intake(respondent="9" * 5_000)),
        ("caseOpen", intake(contactPoint="CP" + "1" * 5_000)),
    ):
        result = payload(client, mutation, **values)
        assert result["userErrors"] and len(result["userErrors"][0]["message"]) < 200, result["userErrors"][0]


async def test_a_duplicate_in_flight_is_told_to_retry(client: TestClient, db_dsn: str) -> None:
    """Session A holds the key's lock (as a running first request does); B's duplicate is refused at
    once, retryable, and writes nothing; after A ends, the retry goes through."""
    holder = await asyncpg.connect(db_dsn)
    try:
        await holder.execute(
            "SELECT pg_advisory_lock(hashtextextended($1 || '/caseOpen/' || $2, 0))", "token:test-user", "dup-1"
        )
        before = await counts(db_dsn)
        body = write(client, "caseOpen", **intake(idempotencyKey="dup-1"))
        assert body["data"]["caseOpen"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["IDEMPOTENCY_KEY_IN_USE"]
        assert await counts(db_dsn) == before
        await holder.execute("SELECT pg_advisory_unlock_all()")
    finally:
        await holder.close()
    assert ok(client, "caseOpen", **intake(idempotencyKey="dup-1"))["case"]["number"]


def test_who_may_write(client: TestClient, db_dsn: str) -> None:
    for role in (Role.ANONYMOUS, Role.PARTNER, Role.INTERNAL):
        as_role(client, role)
        body = write(client, "caseOpen", **intake())
        assert body["data"] == {"caseOpen": None}
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    as_role(client, Role.CONTACT_POINT)
    number = opened(client)["number"]
    refused: tuple[tuple[str, dict[str, Any]], ...] = (
        ("caseTransfer", {"to": "DISTRICT_BUREAU", "reason": "x"}),
        ("caseReopen", {"reason": "x"}),
        ("caseCorrect", {"kind": "CONSULTATION", "reason": "x"}),
    )
    for mutation, values in refused:
        body = write(client, mutation, number=number, expectedVersion=1, **values)
        assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], mutation
    assert codes(payload(client, "caseOpen", **intake(contactPoint=HUANGPU_POINT))) == ["OUT_OF_SCOPE"]
    as_role(client, Role.CASE_OFFICER)
    assert codes(payload(client, "caseOpen", **intake(contactPoint=HUANGPU_POINT))) == ["OUT_OF_SCOPE"]
    assert opened(client, contactPoint=OTHER_PUDONG_POINT)["number"].startswith("C310115-")
    corrected = ok(client, "caseCorrect", number=number, expectedVersion=1, kind="CONSULTATION", reason="misfiled")
    assert corrected["event"]["changes"] == [{"field": "kind", "before": "COMPLAINT", "after": "CONSULTATION"}]
    transferred = ok(client, "caseTransfer", number=number, expectedVersion=2, to="DISTRICT_BUREAU", reason="big")
    assert transferred["case"]["status"] == "TRANSFERRED"
    assert codes(payload(client, "caseReopen", number=number, expectedVersion=3, reason="back")) == []
    as_role(client, Role.ADMIN)
    assert opened(client, contactPoint=HUANGPU_POINT)["number"].startswith("C310101-")


READ = """query ($n: String!) { case(number: $n) { number consumerName consumerPhone version } }"""
ENTITIES = """query ($r: [_Any!]!) { _entities(representations: $r) { ... on Case { number consumerName version } } }"""


def test_what_each_role_reads_back(client: TestClient) -> None:
    number = opened(client)["number"]
    masked = (NAME[0] + "*", PHONE[:3] + "****" + PHONE[-4:])
    expected: dict[Role, Any] = {
        Role.CONTACT_POINT: (NAME, PHONE),
        Role.CASE_OFFICER: (NAME, PHONE),
        Role.ADMIN: masked,
        Role.INTERNAL: masked,
        Role.PARTNER: None,
        Role.ANONYMOUS: "FORBIDDEN",
    }
    for role, seen in expected.items():
        as_role(client, role)
        body = gql(client, READ, n=number)
        entity = gql(client, ENTITIES, r=[{"__typename": "Case", "number": number}])
        if seen == "FORBIDDEN":
            assert body["data"]["case"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            continue
        assert "errors" not in body and "errors" not in entity, (role, body, entity)
        case = body["data"]["case"]
        assert (case if case is None else (case["consumerName"], case["consumerPhone"])) == seen, role
        assert (entity["data"]["_entities"][0] or {}).get("consumerName") == (seen[0] if seen else None), role


async def test_saved_mutations_for_trusted_only_staff(client: TestClient, db_dsn: str) -> None:
    text = "mutation OpenAtDesk($input: CaseOpenInput!) { caseOpen(input: $input) { case { number } userErrors { code } } }"
    await save(db_dsn, "OpenAtDesk", text)
    client.headers.update(bearer("contact_point", trusted_only=True, **STAFF))
    refused = client.post("/graphql", json={"query": document("caseOpen"), "variables": {"input": intake()}})
    assert refused.json()["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": saved.document_sha256(text)}}
    by_hash = client.post("/graphql", json={"extensions": extensions, "variables": {"input": intake()}})
    assert by_hash.json()["data"]["caseOpen"]["case"]["number"].startswith("C310115-")
    by_name = client.get("/queries/OpenAtDesk")
    assert by_name.status_code == 400 and by_name.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_mutations_cost_ten_points_and_only_by_post(client: TestClient) -> None:
    number = opened(client)["number"]
    query = "mutation ($i: CaseStepInput!) { caseAccept(input: $i) { userErrors { code } } }"
    body = client.post("/graphql", json={"query": query, "variables": {"i": {"number": number, "expectedVersion": 1}}})
    assert body.json()["extensions"]["cost"]["requestedQueryCost"] == 10 + 1 + 10  # weight, payload, errors list
    by_get = client.get("/graphql", params={"query": query})
    assert by_get.status_code == 405


async def test_writes_show_in_lists_saved_queries_and_statistics(client: TestClient, db_dsn: str) -> None:
    stats = '{ district(code: "310115") { stats { cases { total amountRecovered } } } }'
    as_role(client, Role.INTERNAL)
    before = data(client, stats)["district"]["stats"]["cases"]
    as_role(client, Role.CONTACT_POINT)
    number = opened(client)["number"]
    ok(client, "caseAccept", number=number, expectedVersion=1)
    ok(client, "caseStartMediation", number=number, expectedVersion=2)
    ok(client, "caseSettle", number=number, expectedVersion=3, amountRecovered="100.00")
    listed = data(
        client,
        "query ($p: [String!]) { cases(first: 1, filter: {contactPointCodes: $p}) { nodes { number status version } } }",
        p=[PUDONG_POINT],
    )
    assert listed["cases"]["nodes"] == [{"number": number, "status": "SETTLED", "version": 4}]
    text = "query PointCases($p: [String!]) { cases(first: 5, filter: {contactPointCodes: $p}) { nodes { number status } } }"
    await save(db_dsn, "PointCases", text)
    csv = client.get("/queries/PointCases", params={"format": "csv", "p": PUDONG_POINT})
    assert csv.status_code == 200 and f"{number},SETTLED" in csv.text
    as_role(client, Role.INTERNAL)
    after = data(client, stats)["district"]["stats"]["cases"]
    recovered = Decimal(after["amountRecovered"]) - Decimal(before["amountRecovered"])
    assert (after["total"] - before["total"], recovered) == (1, Decimal("100.00"))


async def test_no_personal_data_in_logs_events_or_errors(
    client: TestClient, db_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    number = opened(client)["number"]
    bodies = [
        write(client, "caseOpen", **intake(consumerPhone="1" + PHONE[1:-1])),
        write(client, "caseOpen", **intake(consumerName=NAME * 11)),
        write(client, "caseOpen", **intake(contactPoint=HUANGPU_POINT)),
        write(client, "caseAccept", number=number, expectedVersion=9),
    ]
    ok(client, "caseAccept", number=number, expectedVersion=1)
    as_role(client, Role.INTERNAL)
    bodies.append(write(client, "caseOpen", **intake()))
    for secret in (NAME, PHONE, PHONE[1:-1]):
        assert secret not in caplog.text
        for body in bodies:
            assert secret not in str(body.get("errors", "")) and secret not in str(body["data"])
    conn = await asyncpg.connect(db_dsn)
    try:
        events = await conn.fetch("SELECT note, changes::text AS changes FROM case_event ORDER BY id DESC LIMIT 10")
    finally:
        await conn.close()
    assert all(NAME not in e["changes"] + e["note"] and PHONE not in e["changes"] + e["note"] for e in events)


def test_an_input_that_does_not_coerce_never_echoes_personal_data(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """graphql-core words a variable that does not coerce with the whole value in it: a
    missing field or an unknown one would put the consumer's name and phone in the log."""
    caplog.set_level(logging.DEBUG)
    missing_kind = {k: v for k, v in intake().items() if k != "kind"}
    bodies = [
        write(client, "caseOpen", **missing_kind),
        write(client, "caseOpen", **intake(kind="GRIEVANCE")),
        write(client, "caseOpen", **intake(unknownField=1)),
    ]
    for body in bodies:
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
        assert "input" in body["errors"][0]["message"]  # still says which variable is wrong
    for secret in (NAME, PHONE):
        assert secret not in caplog.text
        assert all(secret not in str(body) for body in bodies)


def test_each_payload_of_one_operation_shows_the_case_after_its_own_write(client: TestClient) -> None:
    number = opened(client)["number"]
    both = (
        "mutation ($a: CaseStepInput!, $b: CaseStepInput!) {"
        " a: caseAccept(input: $a) { case { status version } }"
        " b: caseStartMediation(input: $b) { case { status version } } }"
    )
    result = data(client, both, a={"number": number, "expectedVersion": 1}, b={"number": number, "expectedVersion": 2})
    assert result["a"]["case"] == {"status": "ACCEPTED", "version": 2}
    assert result["b"]["case"] == {"status": "MEDIATING", "version": 3}


async def test_the_idempotency_key_header_counts_mutations_inside_fragments(client: TestClient, db_dsn: str) -> None:
    """A fragment on Mutation hides a second mutation from a count of the top-level
    selections: both would run under one key, the second replaying the first."""
    before = await counts(db_dsn)
    hidden = (
        "mutation ($a: CaseOpenInput!) { ... on Mutation {"
        " a: caseOpen(input: $a) { case { number } } b: caseOpen(input: $a) { case { number } } } }"
    )
    body = client.post(
        "/graphql", json={"query": hidden, "variables": {"a": intake()}}, headers={"Idempotency-Key": "frag-1"}
    ).json()
    assert {e["extensions"]["code"] for e in body["errors"]} == {"BAD_USER_INPUT"}
    assert body["data"] == {"a": None, "b": None}
    assert await counts(db_dsn) == before
    named = "mutation ($a: CaseOpenInput!) { __typename caseOpen(input: $a) { case { number } } }"
    one = client.post(
        "/graphql", json={"query": named, "variables": {"a": intake()}}, headers={"Idempotency-Key": "frag-2"}
    ).json()
    assert "errors" not in one and one["data"]["caseOpen"]["case"]["number"].startswith("C310115-")


def test_a_reopened_case_no_longer_counts_what_it_had_recovered(client: TestClient) -> None:
    """Statistics sum amountRecovered over every status: a settlement undone by reopening
    must take its amount with it."""
    number = opened(client)["number"]
    ok(client, "caseAccept", number=number, expectedVersion=1)
    ok(client, "caseStartMediation", number=number, expectedVersion=2)
    ok(client, "caseSettle", number=number, expectedVersion=3, amountRecovered="100.00")
    as_role(client, Role.CASE_OFFICER)
    reopened = ok(client, "caseReopen", number=number, expectedVersion=4, reason="the refund never came")
    assert reopened["case"]["status"] == "MEDIATING" and reopened["case"]["amountRecovered"] is None
    closed = ok(client, "caseCloseUnsettled", number=number, expectedVersion=5, reason="the shop closed")
    assert closed["case"]["status"] == "NOT_SETTLED" and closed["case"]["amountRecovered"] is None


POINT_OF = """query ($n: String!) { case(number: $n) { status version consumerName contactPoint { code } } }"""


def test_a_transfer_to_another_point_hands_the_case_over(client: TestClient) -> None:
    """It moves to the receiving point, open, received anew; its staff see it in full, the
    sending point's no longer do; a point beyond the officer's scope is refused."""
    number = opened(client)["number"]
    ok(client, "caseAccept", number=number, expectedVersion=1)
    as_role(client, Role.CASE_OFFICER)
    handover = {"to": "CONTACT_POINT", "reason": "the shop is there"}
    beyond = payload(client, "caseTransfer", number=number, expectedVersion=2, contactPoint=HUANGPU_POINT, **handover)
    assert codes(beyond) == ["OUT_OF_SCOPE"] and beyond["userErrors"][0]["field"] == ["input", "contactPoint"]
    moved = ok(client, "caseTransfer", number=number, expectedVersion=2, contactPoint=OTHER_PUDONG_POINT, **handover)
    assert moved["case"]["status"] == "RECEIVED" and moved["case"]["version"] == 3
    assert moved["event"]["kind"] == "HANDED_OVER" and moved["case"]["closedAt"] is None
    assert moved["event"]["changes"] == [  # codes, not the database's ids
        {"field": "contactPoint", "before": PUDONG_POINT, "after": OTHER_PUDONG_POINT},
        {"field": "status", "before": "ACCEPTED", "after": "RECEIVED"},
        {
            "field": "transfer",
            "before": None,
            "after": f'{{"contactPoint": "{OTHER_PUDONG_POINT}", "to": "CONTACT_POINT"}}',
        },
    ]
    again = ok(client, "caseTransfer", number=number, expectedVersion=2, contactPoint=OTHER_PUDONG_POINT, **handover)
    assert again["event"] is None and again["case"]["version"] == 3  # the outcome holds: a no-op
    assert data(client, POINT_OF, n=number)["case"]["contactPoint"]["code"] == OTHER_PUDONG_POINT
    as_role(client, Role.CONTACT_POINT)  # the sending point's staff
    assert codes(payload(client, "caseAccept", number=number, expectedVersion=3)) == ["CASE_NOT_FOUND"]
    client.headers.update(bearer("contact_point", contactPoints=[OTHER_PUDONG_POINT]))
    assert data(client, POINT_OF, n=number)["case"]["consumerName"] == NAME
    assert ok(client, "caseAccept", number=number, expectedVersion=3)["case"]["status"] == "ACCEPTED"


def test_a_transfer_is_a_no_op_only_when_it_repeats_the_last_one(client: TestClient) -> None:
    number = opened(client)["number"]
    as_role(client, Role.CASE_OFFICER)
    first = ok(client, "caseTransfer", number=number, expectedVersion=1, to="PLATFORM_12315", reason="beyond us")
    assert first["case"]["status"] == "TRANSFERRED"
    same = ok(client, "caseTransfer", number=number, expectedVersion=1, to="PLATFORM_12315", reason="beyond us")
    assert same["event"] is None and same["case"]["version"] == 2
    other = payload(client, "caseTransfer", number=number, expectedVersion=2, to="DISTRICT_BUREAU", reason="no")
    assert codes(other) == ["CASE_CLOSED"]


def test_reopening_an_open_case_is_refused(client: TestClient) -> None:
    """Not a no-op: an accepted case is where a reopened transfer lands, yet it was never closed."""
    number = opened(client)["number"]
    ok(client, "caseAccept", number=number, expectedVersion=1)
    as_role(client, Role.CASE_OFFICER)
    assert codes(payload(client, "caseReopen", number=number, expectedVersion=2, reason="why")) == [
        "ILLEGAL_TRANSITION"
    ]


async def test_a_replay_needs_the_scope_its_write_was_made_in(client: TestClient, db_dsn: str) -> None:
    """A credential whose points were taken away cannot read a case back through a key."""
    first = ok(client, "caseOpen", **intake(idempotencyKey="scope-1"))
    client.headers.update(bearer("contact_point", contactPoints=[OTHER_PUDONG_POINT]))  # same subject
    replay = payload(client, "caseOpen", **intake(idempotencyKey="scope-1"))
    assert codes(replay) == ["OUT_OF_SCOPE"] and replay["case"] is None
    number = first["case"]["number"]
    as_role(client, Role.CONTACT_POINT)
    ok(client, "caseAccept", number=number, expectedVersion=1, idempotencyKey="scope-2")
    client.headers.update(bearer("contact_point", contactPoints=[OTHER_PUDONG_POINT]))
    again = payload(client, "caseAccept", number=number, expectedVersion=1, idempotencyKey="scope-2")
    assert codes(again) == ["CASE_NOT_FOUND"] and again["case"] is None


def test_long_token_subjects_keep_their_own_keys(client: TestClient) -> None:
    """Subjects alike in their first 64 characters are two writers, not one."""
    cases = set()
    for sub in ("staff-" + "x" * 60 + "-1", "staff-" + "x" * 60 + "-2"):
        client.headers.update({"Authorization": f"Bearer {token('contact_point', sub=sub, **STAFF)}"})
        body = write(client, "caseOpen", **intake(idempotencyKey="same-key"))
        assert "idempotentReplay" not in body.get("extensions", {})
        cases.add(body["data"]["caseOpen"]["case"]["number"])
    assert len(cases) == 2


async def test_numbers_taken_outside_the_service_are_skipped_without_a_gap(client: TestClient, db_dsn: str) -> None:
    number = opened(client)["number"]
    district_year, seq = number.rsplit("-", 1)
    conn = await asyncpg.connect(db_dsn)
    try:
        for step in (1, 2, 4):
            await conn.execute(
                'INSERT INTO "case" (number, kind, channel, category, status, contact_point_id, opened_at, summary)'
                " SELECT $1, kind, channel, category, 'received', contact_point_id, opened_at, 'by SQL'"
                ' FROM "case" WHERE number = $2',
                f"{district_year}-{int(seq) + step:06d}",
                number,
            )
    finally:
        await conn.close()
    assert opened(client)["number"] == f"{district_year}-{int(seq) + 3:06d}"
    assert opened(client)["number"] == f"{district_year}-{int(seq) + 5:06d}"


CONFLICTS = {"deadlock": ("40P01", "WRITE_CONFLICT"), "cancelled": ("57014", "STATEMENT_CANCELLED")}


async def test_database_conflicts_are_retryable_codes(client: TestClient, db_dsn: str) -> None:
    """A deadlock, a serialization failure or a cancelled statement is PostgreSQL's to
    raise under load; here a trigger raises them with their real SQLSTATEs."""
    conn = await asyncpg.connect(db_dsn)
    try:
        await conn.execute(
            "CREATE FUNCTION fail_as_noted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF current_setting('liaison.note', true) = 'deadlock' THEN RAISE 'x' USING ERRCODE = '40P01'; END IF;"
            " IF current_setting('liaison.note', true) = 'cancelled' THEN RAISE 'x' USING ERRCODE = '57014'; END IF;"
            " RETURN NEW; END $$;"
            ' CREATE TRIGGER fail_as_noted BEFORE UPDATE ON "case" FOR EACH ROW EXECUTE FUNCTION fail_as_noted()'
        )
    finally:
        await conn.close()
    number = opened(client)["number"]
    before = await counts(db_dsn)
    for note, (_, code) in CONFLICTS.items():
        body = write(client, "caseAddNote", number=number, expectedVersion=1, note=note, idempotencyKey=note)
        assert body["data"] == {"caseAddNote": None}
        assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    assert await counts(db_dsn) == before
    assert ok(client, "caseAddNote", number=number, expectedVersion=1, note="fine", idempotencyKey="deadlock")


def test_a_handover_to_the_point_it_is_at_is_refused(client: TestClient) -> None:
    number = opened(client)["number"]
    as_role(client, Role.CASE_OFFICER)
    here = {"to": "CONTACT_POINT", "contactPoint": PUDONG_POINT, "reason": "stay"}
    assert codes(payload(client, "caseTransfer", number=number, expectedVersion=1, **here)) == ["ILLEGAL_TRANSITION"]
    ok(client, "caseTransfer", number=number, expectedVersion=1, to="DISTRICT_BUREAU", reason="big")
    assert codes(payload(client, "caseTransfer", number=number, expectedVersion=2, **here)) == ["CASE_CLOSED"]


def test_a_reopening_retried_without_a_key_is_a_no_op(client: TestClient) -> None:
    number = opened(client)["number"]
    ok(client, "caseAccept", number=number, expectedVersion=1)
    ok(client, "caseStartMediation", number=number, expectedVersion=2)
    ok(client, "caseCloseUnsettled", number=number, expectedVersion=3, reason="the shop refuses")
    as_role(client, Role.CASE_OFFICER)
    assert ok(client, "caseReopen", number=number, expectedVersion=4, reason="new evidence")["case"]["version"] == 5
    again = ok(client, "caseReopen", number=number, expectedVersion=4, reason="new evidence")
    assert again["event"] is None and again["case"]["version"] == 5


def test_a_write_replays_after_its_case_was_handed_over(client: TestClient) -> None:
    """The accept committed, its answer was lost, an officer handed the case on: the retry
    is told what happened, not that nothing was written."""
    number = opened(client)["number"]
    first = write(client, "caseAccept", number=number, expectedVersion=1, idempotencyKey="accept-lost")
    as_role(client, Role.CASE_OFFICER)
    handover = {"to": "CONTACT_POINT", "contactPoint": OTHER_PUDONG_POINT, "reason": "the shop is there"}
    ok(client, "caseTransfer", number=number, expectedVersion=2, **handover)
    as_role(client, Role.CONTACT_POINT)
    retry = write(client, "caseAccept", number=number, expectedVersion=1, idempotencyKey="accept-lost")
    assert retry["extensions"]["idempotentReplay"] is True
    assert retry["data"]["caseAccept"]["event"] == first["data"]["caseAccept"]["event"]
    assert retry["data"]["caseAccept"]["userErrors"] == []


def test_text_that_is_not_unicode_is_refused_with_its_field(client: TestClient) -> None:
    """A lone surrogate (JSON allows the escape, UTF-8 cannot hold it) in any string of any
    write: a coded refusal naming the field, not an internal error."""
    number = opened(client)["number"]
    total = "{ cases { totalCount } }"
    before = data(client, total)["cases"]["totalCount"]
    lone = "half \ud800 of a pair"
    for mutation, values, field in (
        ("caseOpen", intake(summary=lone), "summary"),
        ("caseOpen", intake(consumerName=lone), "consumerName"),
        ("caseAccept", {"number": number, "expectedVersion": 1, "note": lone}, "note"),
        ("caseAccept", {"number": lone, "expectedVersion": 1}, "number"),
        ("caseCloseUnsettled", {"number": number, "expectedVersion": 1, "reason": lone}, "reason"),
    ):
        body = json.dumps({"query": document(mutation), "variables": {"input": values}})  # ASCII: \ud800 escaped
        response = client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        result = response.json()["data"][mutation]
        assert result["userErrors"] == [
            {
                "code": "INVALID_TEXT",
                "field": ["input", field],
                "message": f"`{field}` holds a lone surrogate (U+D800): text must be valid Unicode.",
                "currentVersion": None,
            }
        ], (mutation, field, result)
    assert data(client, POINT_OF, n=number)["case"]["version"] == 1
    assert data(client, total)["cases"]["totalCount"] == before


@pytest.mark.parametrize("name", ["\u200b", " \u200b\u3000", "\t", "··", "张\x00三"])
def test_a_consumer_name_without_a_letter_or_with_a_control_character_is_refused(client: TestClient, name: str) -> None:
    """A blank name is refused: one of zero-width or ideographic spaces, or of punctuation
    only, is blank too; a NUL or another control character is never part of a name."""
    assert codes(payload(client, "caseOpen", **intake(consumerName=name))) == ["INVALID_NAME"]


@pytest.mark.parametrize("name", ["张三", "阿依古丽·买买提", "Zhang San", "O'Brien"])
def test_names_as_people_have_them_are_taken(client: TestClient, name: str) -> None:
    assert codes(payload(client, "caseOpen", **intake(consumerName=name))) == []
