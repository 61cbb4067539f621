"""What the case-write tests share: mutations as documents, inputs, and SQL counts."""

from __future__ import annotations

from typing import Any

import asyncpg
from starlette.testclient import TestClient

PUDONG_POINT = "CP310115-00376"
OTHER_PUDONG_POINT = "CP310115-00993"
HUANGPU_POINT = "CP310101-00001"
ENTERPRISE = "91310115MA16BD9Y56"
NAME, PHONE = "欧阳娜娜", "13987654321"
"""A consumer the tests write: neither may ever appear in a log, an event or an error."""

PAYLOAD = """{ case { number status version consumerName consumerPhone amountClaimed amountRecovered closedAt }
  event { kind status actorRole note changes { field before after } }
  userErrors { field code message currentVersion } }"""

INPUTS = {
    "caseOpen": "CaseOpenInput",
    "caseAccept": "CaseStepInput",
    "caseStartMediation": "CaseStepInput",
    "caseSettle": "CaseSettleInput",
    "caseCloseUnsettled": "CaseReasonInput",
    "caseTransfer": "CaseTransferInput",
    "caseReopen": "CaseReasonInput",
    "caseAddNote": "CaseAddNoteInput",
    "caseCorrect": "CaseCorrectInput",
}


def document(mutation: str) -> str:
    return f"mutation ($input: {INPUTS[mutation]}!) {{ {mutation}(input: $input) {PAYLOAD} }}"


def intake(**overrides: Any) -> dict[str, Any]:
    values = {
        "contactPoint": PUDONG_POINT,
        "kind": "COMPLAINT",
        "channel": "ON_SITE",
        "category": "PRODUCT_QUALITY",
        "summary": "A kettle that leaks",
        "consumerName": NAME,
        "consumerPhone": PHONE,
        "respondent": ENTERPRISE,
        "amountClaimed": "399.00",
    }
    return {**values, **overrides}


def write(client: TestClient, mutation: str, headers: dict[str, str] | None = None, **values: Any) -> dict[str, Any]:
    """POST ``mutation`` with ``values`` as its input; the whole response body."""
    response = client.post(
        "/graphql", json={"query": document(mutation), "variables": {"input": values}}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    return response.json()


def payload(client: TestClient, mutation: str, **values: Any) -> dict[str, Any]:
    """The payload of a mutation that must not fail at the top level."""
    body = write(client, mutation, **values)
    assert "errors" not in body, body["errors"]
    return body["data"][mutation]


def ok(client: TestClient, mutation: str, **values: Any) -> dict[str, Any]:
    """The payload of a mutation that must succeed."""
    result = payload(client, mutation, **values)
    assert result["userErrors"] == [], result["userErrors"]
    return result


async def counts(dsn: str) -> tuple[int, int, int, int]:
    """Cases, events, idempotency keys and the sum of case versions: what a refused write leaves as it was."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            'SELECT (SELECT count(*) FROM "case"), (SELECT count(*) FROM case_event),'
            ' (SELECT count(*) FROM idempotency_key), (SELECT sum(version) FROM "case")'
        )
        return tuple(row)
    finally:
        await conn.close()
