"""A real graphql-transport-ws client (gql over websockets) against two service processes
on one database: a write through one reaches subscribers of the other, in commit order and
masked for each subscriber's role."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from .subscriptions_support import CASE_EVENTS, head
from .support import bearer, live_service
from .writes_support import NAME, PHONE, PUDONG_POINT, document, intake

BOUND = 60.0
"""Seconds to wait for the events before failing, instead of hanging."""


def subscriber(base: str, role: str, **claims: Any) -> Client:
    transport = WebsocketsTransport(
        url=base.replace("http://", "ws://") + "/graphql",
        init_payload={"Authorization": bearer(role, **claims)["Authorization"]},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    return Client(transport=transport)


async def events(client: Client, after: str, count: int, ready: asyncio.Event) -> list[dict[str, Any]]:
    request = GraphQLRequest(CASE_EVENTS, variable_values={"filter": {"after": after}})
    got = []
    async with client as session:
        ready.set()
        async for result in session.subscribe(request):
            got.append(result["caseEvents"])
            if len(got) == count:
                break
    return got


def write(base: str, mutation: str, **values: Any) -> dict[str, Any]:
    response = httpx2.post(
        base + "/graphql",
        json={"query": document(mutation), "variables": {"input": values}},
        headers=bearer("admin"),
    )
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    payload = body["data"][mutation]
    assert payload["userErrors"] == [], payload
    return payload["case"]


async def test_a_write_through_one_process_reaches_a_subscriber_of_another(db_dsn: str, tmp_path: Path) -> None:
    with live_service(db_dsn, tmp_path) as writer, live_service(db_dsn, tmp_path) as reader:
        after = await head(db_dsn)
        ready = [asyncio.Event(), asyncio.Event()]
        officer = asyncio.create_task(
            events(subscriber(reader, "case_officer", districts=["310115"]), after, 4, ready[0])
        )
        internal = asyncio.create_task(events(subscriber(reader, "internal"), after, 4, ready[1]))
        async with asyncio.timeout(BOUND):
            await asyncio.gather(*(r.wait() for r in ready))

        def writes() -> list[tuple[str, str]]:
            first = write(writer, "caseOpen", **intake())
            second = write(writer, "caseOpen", **intake(contactPoint=PUDONG_POINT))
            write(writer, "caseAccept", number=first["number"], expectedVersion=1)
            write(writer, "caseStartMediation", number=first["number"], expectedVersion=2)
            return [
                (first["number"], "OPENED"),
                (second["number"], "OPENED"),
                (first["number"], "ACCEPTED"),
                (first["number"], "MEDIATION_STARTED"),
            ]

        expected = await asyncio.to_thread(writes)
        async with asyncio.timeout(BOUND):
            by_officer, by_internal = await asyncio.gather(officer, internal)
    for seen in (by_officer, by_internal):
        assert [(e["case"]["number"], e["event"]["kind"]) for e in seen] == expected
        assert [int(e["cursor"]) for e in seen] == sorted(int(e["cursor"]) for e in seen)
    assert {(e["case"]["consumerName"], e["case"]["consumerPhone"]) for e in by_officer} == {(NAME, PHONE)}
    assert {(e["case"]["consumerName"], e["case"]["consumerPhone"]) for e in by_internal} == {("欧*", "139****4321")}
