"""Subscriptions to case events over graphql-transport-ws: access per role, masks, filters,
limits, revocation, resume with ``after``, and cleanup. In process (Starlette's test client
speaks the websocket); tests/test_subscriptions_live.py runs a real client against two
service processes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import anyio
import asyncpg
import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

import api.subscriptions
import resolvers.case_events
from api.jsonout import dumps
from db.access import Role, Viewer
from db.case_events import EventFilter, Scope, StreamedEvent, batch_after, head_position, streamed_events
from db.cases_write import Claim, Intake, Writer, open_case
from db.credentials import create_key, revoke_key
from db.pool import open_database
from resolvers.case_events import EventHub
from resolvers.limits import LimitSettings
from schema.subscription import SharedData

from .subscriptions_support import CASE_EVENTS
from .support import app_state, bearer, service, wait_until
from .writes_support import HUANGPU_POINT, NAME, OTHER_PUDONG_POINT, PHONE, PUDONG_POINT, intake, ok

SUBSCRIPTION = CASE_EVENTS
PUBLIC_SUBSCRIPTION = """subscription ($filter: CaseEventStreamFilter) {
  caseEvents(filter: $filter) { cursor event { kind } case { number } }
}"""

BOUND = 30.0
"""Seconds a test waits for a message before failing, instead of hanging."""


def receive_text(ws: WebSocketTestSession) -> str:
    """The next message from the server as sent (a close raises ``WebSocketDisconnect``)."""

    async def bounded() -> Any:
        with anyio.fail_after(BOUND):
            return await ws._send_rx.receive()

    message = ws.portal.call(bounded)
    ws._raise_on_close(message)
    return str(message["text"])


def receive(ws: WebSocketTestSession) -> dict[str, Any]:
    """The next message from the server (a close raises ``WebSocketDisconnect``)."""
    return json.loads(receive_text(ws))


def closed_with(ws: WebSocketTestSession) -> WebSocketDisconnect:
    with pytest.raises(WebSocketDisconnect) as closed:
        receive(ws)
    return closed.value


@contextlib.contextmanager
def connected(client: TestClient, authorization: str | None) -> Iterator[WebSocketTestSession]:
    """A graphql-transport-ws connection, acknowledged, with ``authorization`` (None: anonymous)."""
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        payload = {"Authorization": authorization} if authorization else {}
        ws.send_json({"type": "connection_init", "payload": payload})
        assert receive(ws) == {"type": "connection_ack"}
        yield ws


def as_role(role: str, **claims: Any) -> str:
    return bearer(role, **claims)["Authorization"]


def subscribe(ws: WebSocketTestSession, ident: str = "1", query: str = SUBSCRIPTION, **filter: Any) -> None:
    """Subscribe as ``ident``; from the stream's head now unless ``after`` is given, so that
    a write the test makes next is delivered however soon the server registers it."""
    if "after" not in filter:
        filter["after"] = str(ws.portal.call(head_position, app_state(ws).db))
    payload = {"query": query, "variables": {"filter": filter}}
    ws.send_json({"id": ident, "type": "subscribe", "payload": payload})


def delivered(ws: WebSocketTestSession, ident: str = "1") -> dict[str, Any]:
    """The next event of subscription ``ident``: its data, which must have no errors."""
    message = receive(ws)
    assert message["type"] == "next" and message["id"] == ident, message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]["caseEvents"]


def refused(ws: WebSocketTestSession, ident: str = "1") -> str:
    """The code of the error that ended or refused subscription ``ident``."""
    message = receive(ws)
    assert message["id"] == ident, message
    errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors")
    assert errors, message
    return errors[0]["extensions"]["code"]


def hub_state(client: TestClient) -> tuple[int, int, int, int]:
    """Subscribers, sessions, credentials counted, and tasks on the app's event loop."""
    hub = app_state(client).events

    async def tasks() -> int:
        return len(asyncio.all_tasks())

    return hub.subscriber_count, len(hub.sessions), len(hub.per_credential), client.portal.call(tasks)  # type: ignore[union-attr]


async def jiangsu_enterprise(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT credit_code FROM enterprise WHERE district_code LIKE '32%' ORDER BY id LIMIT 1"
        )
    finally:
        await conn.close()


async def test_each_role_gets_the_events_it_may_see_masked_as_for_queries(db_dsn: str) -> None:
    jiangsu = await jiangsu_enterprise(db_dsn)
    with (
        service(db_dsn, role="admin") as client,
        connected(client, as_role("internal")) as internal,
        connected(client, as_role("case_officer", districts=["310115"])) as officer,
        connected(client, as_role("contact_point", contactPoints=[PUDONG_POINT])) as point,
        connected(client, as_role("contact_point", contactPoints=[OTHER_PUDONG_POINT])) as other_point,
        connected(client, as_role("partner", regions=["320000"])) as partner,
        connected(client, as_role("admin")) as admin,
        connected(client, None) as anonymous,
    ):
        for ws in (internal, officer, point, other_point, admin):
            subscribe(ws)
        subscribe(partner, query=PUBLIC_SUBSCRIPTION)
        subscribe(anonymous, query=PUBLIC_SUBSCRIPTION)
        assert refused(anonymous) == "FORBIDDEN"

        pudong = ok(client, "caseOpen", **intake())["case"]["number"]
        huangpu = ok(client, "caseOpen", **intake(contactPoint=HUANGPU_POINT, respondent=jiangsu))["case"]["number"]
        ok(client, "caseAccept", number=pudong, expectedVersion=1)
        last = ok(client, "caseOpen", **intake(contactPoint=OTHER_PUDONG_POINT, respondent=jiangsu))["case"]["number"]

        seen = [delivered(internal) for _ in range(4)]
        assert [(e["case"]["number"], e["event"]["kind"]) for e in seen] == [
            (pudong, "OPENED"),
            (huangpu, "OPENED"),
            (pudong, "ACCEPTED"),
            (last, "OPENED"),
        ]
        assert [int(e["cursor"]) for e in seen] == sorted(int(e["cursor"]) for e in seen)
        assert {(e["case"]["consumerName"], e["case"]["consumerPhone"]) for e in seen} == {("欧*", "139****4321")}
        assert seen[0]["case"]["contactPoint"]["code"] == PUDONG_POINT and seen[0]["event"]["actorRole"] == "admin"

        # A case officer reads consumers' data in full in its districts, masked elsewhere.
        officer_seen = [delivered(officer) for _ in range(4)]
        assert [(e["case"]["number"], e["case"]["consumerName"]) for e in officer_seen] == [
            (pudong, NAME),
            (huangpu, "欧*"),
            (pudong, NAME),
            (last, NAME),
        ]
        assert officer_seen[0]["case"]["consumerPhone"] == PHONE
        # A contact point's staff see only their own points' cases, in full.
        assert [
            (e["case"]["number"], e["event"]["kind"], e["case"]["consumerName"])
            for e in (delivered(point), delivered(point))
        ] == [
            (pudong, "OPENED", NAME),
            (pudong, "ACCEPTED", NAME),
        ]
        assert delivered(other_point)["case"]["number"] == last
        # A partner sees the cases involving its region only; the admin all, masked.
        assert [delivered(partner, "1")["case"]["number"] for _ in range(2)] == [huangpu, last]
        assert [delivered(admin)["case"]["consumerName"] for _ in range(4)] == ["欧*"] * 4

        # Fields a role may not read are refused as in queries, the event still delivered.
        subscribe(partner, "2")
        ok(client, "caseOpen", **intake(contactPoint=HUANGPU_POINT, respondent=jiangsu))
        message = receive(partner)
        while message["id"] != "2":
            message = receive(partner)
        assert message["payload"]["data"]["caseEvents"]["case"]["consumerName"] is None
        assert {e["extensions"]["code"] for e in message["payload"]["errors"]} == {"FORBIDDEN"}


def test_subscribers_asking_the_same_under_one_access_share_one_execution_per_event(db_dsn: str) -> None:
    """Three case officers of Pudong with the same dashboard cost one execution per event, and
    get the same payload; an internal user's is its own execution, masked for its role."""
    with service(db_dsn, role="admin") as client, contextlib.ExitStack() as stack:
        hub = app_state(client).events
        officers = [
            stack.enter_context(connected(client, as_role("case_officer", districts=["310115"]))) for _ in "abc"
        ]
        internal = stack.enter_context(connected(client, as_role("internal")))
        assert client.portal is not None
        after = str(client.portal.call(head_position, app_state(client).db))
        for ws in (*officers, internal):
            subscribe(ws, districtCodes=["310115"], after=after)
        before = hub.executions
        number = ok(client, "caseOpen", **intake())["case"]["number"]
        ok(client, "caseAccept", number=number, expectedVersion=1)
        seen = [[delivered(ws) for _ in range(2)] for ws in officers]
        internal_seen = [delivered(internal) for _ in range(2)]
        assert hub.executions - before == 2 * 2  # two events, two access scopes
        assert seen[0] == seen[1] == seen[2]
        assert [(e["case"]["number"], e["event"]["kind"], e["case"]["consumerName"]) for e in seen[0]] == [
            (number, "OPENED", NAME),
            (number, "ACCEPTED", NAME),
        ]
        assert [(e["case"]["number"], e["case"]["consumerName"]) for e in internal_seen] == [(number, "欧*")] * 2


def test_sharers_are_sent_the_same_bytes_each_with_its_own_id(db_dsn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An event's shared execution is serialised once, and each sharer's message holds
    those bytes with its own operation id."""
    serialised: list[object] = []

    def counting(data: object) -> bytes:
        if isinstance(data, SharedData):
            serialised.append(data)
        return dumps(data)

    monkeypatch.setattr(api.subscriptions, "dumps", counting)
    with service(db_dsn, role="admin") as client, contextlib.ExitStack() as stack:
        hub = app_state(client).events
        officers = [
            stack.enter_context(connected(client, as_role("case_officer", districts=["310115"]))) for _ in "abc"
        ]
        internal = stack.enter_context(connected(client, as_role("internal")))
        assert client.portal is not None and hub is not None
        after = str(client.portal.call(head_position, app_state(client).db))
        sockets = dict(zip("abci", (*officers, internal), strict=True))
        for ident, ws in sockets.items():
            subscribe(ws, ident, districtCodes=["310115"], after=after)
        before = hub.executions
        number = ok(client, "caseOpen", **intake())["case"]["number"]
        ok(client, "caseAccept", number=number, expectedVersion=1)
        texts = {ident: [receive_text(ws) for _ in range(2)] for ident, ws in sockets.items()}
        assert len(serialised) == hub.executions - before == 2 * 2  # two events, two access scopes
        for ident in "abci":
            assert [json.loads(t)["id"] for t in texts[ident]] == [ident, ident]
        for event in range(2):  # the same text but for the id (and extensions: each one's budget)
            sent = {ident: texts[ident][event].split(',"extensions":', 1)[0] for ident in "abc"}
            assert sent["a"].startswith('{"id":"a","type":"next","payload":{"data":{"caseEvents":')
            assert {text.replace(f'{{"id":"{ident}",', "", 1) for ident, text in sent.items()} == {
                sent["a"].replace('{"id":"a",', "", 1)
            }
        assert json.loads(texts["a"][0])["payload"]["data"]["caseEvents"]["case"]["consumerName"] == NAME
        assert json.loads(texts["i"][0])["payload"]["data"]["caseEvents"]["case"]["consumerName"] == "欧*"


def test_the_bytes_kept_for_sharers_are_the_size_of_their_text() -> None:
    """Up to 4,096 shared executions are kept with their bytes: orjson's output holds a 4 KiB
    buffer whatever its length, which made them 16 MiB of the reader's memory."""
    shared = [
        SharedData({"caseEvents": {"cursor": str(n), "case": {"number": f"C310115-2026-{n:06d}"}}}) for n in range(256)
    ]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for data in shared:
            api.subscriptions.frame({"id": "1", "type": "next", "payload": {"data": data}})
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert all(data.serialised is not None for data in shared)
    assert kept < 256 * 200, kept  # each text is under 80 bytes


async def test_the_batch_statement_stays_one_text_while_subscribers_come_and_go() -> None:
    """Scopes and filters are parameters: other districts, points, kinds or officers of the
    same roles read with the same statement, so PostgreSQL plans it once per connection."""
    texts = []

    class Capture:
        async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
            texts.append(query)
            return []

    for district, kinds in (("310115", ()), ("310101", ("accepted", "opened"))):
        officer = Viewer(Role.CASE_OFFICER, district_codes=(district,))
        wanted = {
            EventFilter(district_codes=(district,), kinds=kinds),
            EventFilter(contact_point_codes=(PUDONG_POINT,)),
        }
        await batch_after(Capture(), 0, 500, [Scope(Viewer(Role.INTERNAL), wanted), Scope(officer, wanted)])
    assert texts[0] == texts[1]


async def test_the_batch_statement_is_one_text_however_many_scopes(db_dsn: str) -> None:
    """Scopes are rows of a parameter, not text: 40 case officers of other districts and 40
    points' staff read with the very statement 2 of each do, short enough for asyncpg's
    statement cache (15 KiB), so it is parsed and planned once per connection however many
    scopes subscribe; and each scope still gets the events it may see, masked as its role."""
    conn = await asyncpg.connect(db_dsn)
    texts: list[str] = []

    class Recording:
        async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
            texts.append(query)
            return await conn.fetch(query, *args)

    try:
        start = await head_position(conn)
        jiangsu = await jiangsu_enterprise(db_dsn)
        admin = Writer("admin", Role.ADMIN, "test", every_point=True)
        numbers = {}
        for point, respondent in ((PUDONG_POINT, None), (HUANGPU_POINT, jiangsu)):
            claim = Claim("caseOpen", None, hashlib.sha256(point.encode()).digest())
            intake = Intake(point, "complaint", "on_site", "product_quality", "", NAME, PHONE, respondent, None, None)
            written = await open_case(conn, admin, claim, intake)
            numbers[point] = await conn.fetchval('SELECT number FROM "case" WHERE id = $1', written.case_id)
        districts = [r[0] for r in await conn.fetch("SELECT code FROM district ORDER BY code")]
        points = [r[0] for r in await conn.fetch("SELECT code FROM contact_point ORDER BY code LIMIT 38")]
        officers = [(d,) for d in districts] + list(itertools.pairwise(districts))
        everything = {EventFilter()}

        def scopes(count: int) -> list[Scope]:
            return [
                Scope(Viewer(Role.INTERNAL), everything),
                Scope(Viewer(Role.PARTNER, region_codes=("320000",)), everything),
                Scope(Viewer(Role.CASE_OFFICER, region_codes=("310000",)), {EventFilter(district_codes=("310101",))}),
                *(Scope(Viewer(Role.CASE_OFFICER, district_codes=d), everything) for d in officers[:count]),
                *(
                    Scope(Viewer(Role.CONTACT_POINT, contact_point_codes=(p,)), everything)
                    for p in [PUDONG_POINT, HUANGPU_POINT, *points][:count]
                ),
            ]

        masked = ("欧*", "139****4321")
        for count in (2, 40):
            given = scopes(count)
            rows = await batch_after(Recording(), start, 500, given)
            assert [(row.route.contact_point_code, row.route.kind) for row in rows] == [
                (PUDONG_POINT, "opened"),
                (HUANGPU_POINT, "opened"),
            ]
            for row in rows:
                seen = {}
                for scope, item in zip(given, row.items, strict=True):
                    if item is not None:
                        assert item.case.number == numbers[row.route.contact_point_code]
                        assert item.position == row.route.position and item.event.kind == "opened"
                    seen[scope.viewer] = None if item is None else (item.case.consumer_name, item.case.consumer_phone)
                for viewer, got in seen.items():
                    if viewer.role is Role.INTERNAL:
                        assert got == masked
                    elif viewer.role is Role.PARTNER:
                        assert got == ((None, None) if row.route.district_code == "310101" else None)
                    elif viewer.role is Role.CONTACT_POINT:
                        mine = viewer.contact_point_codes == (row.route.contact_point_code,)
                        assert got == ((NAME, PHONE) if mine else None)
                    elif viewer.region_codes:  # wants Huangpu only, in full across Shanghai
                        assert got == ((NAME, PHONE) if row.route.district_code == "310101" else None)
                    else:
                        assert got == ((NAME, PHONE) if row.route.district_code in viewer.district_codes else masked)
        assert len(texts) == 2 and texts[0] == texts[1]
        assert len(texts[0].encode()) < 15 * 1024, len(texts[0])
    finally:
        await conn.close()


async def test_a_batch_costs_one_statement_whatever_the_access_scopes(db_dsn: str) -> None:
    """The listener reads a batch with each event as every scope of its subscribers may see
    it in one statement: routes and scoped reads together, not one more per scope."""
    db = await open_database(db_dsn, max_size=4, timeout=10)

    async def verify(authorization: str | None) -> Viewer:
        raise AssertionError("no credential to check")

    hub = EventHub(db, db_dsn, LimitSettings(), verify)
    costs: list[int] = []
    fan_out = hub._fan_out

    async def counted() -> bool:
        before = db.statements
        more = await fan_out()
        costs.append(db.statements - before)
        return more

    hub._fan_out = counted  # type: ignore[method-assign]
    viewers = {
        "internal": Viewer(Role.INTERNAL),
        "internal, Huangpu only": Viewer(Role.INTERNAL),
        "officer": Viewer(Role.CASE_OFFICER, district_codes=("310115",)),
        "point": Viewer(Role.CONTACT_POINT, contact_point_codes=(PUDONG_POINT,)),
        "partner": Viewer(Role.PARTNER, region_codes=("320000",)),
    }
    wanted = {"internal, Huangpu only": EventFilter(district_codes=("310101",))}
    conn = await asyncpg.connect(db_dsn)
    try:
        subscribers = {
            name: await hub.subscribe(hub.open(None, viewer), wanted.get(name, EventFilter()), None)
            for name, viewer in viewers.items()
        }
        admin = Writer("admin", Role.ADMIN, "test", every_point=True)
        numbers = []
        for point in (PUDONG_POINT, HUANGPU_POINT):
            claim = Claim("caseOpen", None, hashlib.sha256(point.encode()).digest())
            intake = Intake(point, "complaint", "on_site", "product_quality", "", NAME, PHONE, None, Decimal(1), None)
            written = await open_case(conn, admin, claim, intake)
            numbers.append(await conn.fetchval('SELECT number FROM "case" WHERE id = $1', written.case_id))

        async def taken(name: str, count: int) -> list[tuple[str, str | None]]:
            items: list[StreamedEvent] = []
            async with asyncio.timeout(BOUND):
                while len(items) < count:
                    items.append(await subscribers[name].queue.get())
            return [(item.case.number, item.case.consumer_name) for item in items]

        pudong, huangpu = numbers
        assert await taken("internal", 2) == [(pudong, "欧*"), (huangpu, "欧*")]
        assert await taken("internal, Huangpu only", 1) == [(huangpu, "欧*")]
        assert await taken("officer", 2) == [(pudong, NAME), (huangpu, "欧*")]
        assert await taken("point", 1) == [(pudong, NAME)]
        assert all(subscribers[name].queue.empty() for name in ("partner", "point", "internal, Huangpu only"))
        assert costs and set(costs) == {1}, costs
    finally:
        await conn.close()
        await hub.close()
        await db.close()


@pytest.mark.parametrize("with_cursor", [False, True], ids=["from-now", "after-a-cursor"])
async def test_a_subscriber_that_joins_while_a_batch_is_read_loses_none_of_it(
    db_dsn: str, monkeypatch: pytest.MonkeyPatch, with_cursor: bool
) -> None:
    """The listener takes its subscribers' scopes, then reads a batch, then moves its cursor
    past it: a subscriber who joined in between was not read for, and (with ``after``) had
    caught up from the table before the event committed. It must read that event from the
    table, not lose it. (CI once saw this as Pudong's officers with no event: the hub's first
    batch was read for one of them, while the others subscribed and the case was opened.)"""
    db = await open_database(db_dsn, max_size=4, timeout=10)

    async def verify(authorization: str | None) -> Viewer:
        raise AssertionError("no credential to check")

    hub = EventHub(db, db_dsn, LimitSettings(), verify)
    scopes_taken, read, was_read, caught_up = asyncio.Event(), asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def held(*args: Any) -> list[Any]:
        """The first batch reads once the test says, its scopes taken already."""
        holding = not scopes_taken.is_set()
        if holding:
            scopes_taken.set()
            await read.wait()
        rows = await batch_after(*args)
        if holding:
            was_read.set()  # the hub moves its cursor before the test runs again
        return rows

    async def catch_up(*args: Any, **kwargs: Any) -> list[StreamedEvent]:
        page = await streamed_events(*args, **kwargs)
        caught_up.set()
        return page

    monkeypatch.setattr(resolvers.case_events, "batch_after", held)
    monkeypatch.setattr(resolvers.case_events, "streamed_events", catch_up)
    officer = Viewer(Role.CASE_OFFICER, district_codes=("310115",))
    admin = Writer("admin", Role.ADMIN, "test", every_point=True)
    conn = await asyncpg.connect(db_dsn)

    async def opened(seed: bytes) -> int:
        claim = Claim("caseOpen", None, hashlib.sha256(seed).digest())
        await open_case(
            conn,
            admin,
            claim,
            Intake(PUDONG_POINT, "complaint", "on_site", "product_quality", "", NAME, PHONE, None, None, None),
        )
        return await head_position(conn)

    taking: asyncio.Future[StreamedEvent] | None = None
    try:
        await hub.subscribe(hub.open(None, officer), EventFilter(), None)  # starts the listener
        async with asyncio.timeout(BOUND):
            await scopes_taken.wait()
        after = await head_position(conn) if with_cursor else None
        joined = await hub.subscribe(hub.open(None, officer), EventFilter(), after)
        taking = asyncio.ensure_future(anext(hub.events(joined)))
        if with_cursor:
            async with asyncio.timeout(BOUND):
                await caught_up.wait()  # from the table: nothing yet
        first = await opened(b"first")
        read.set()
        async with asyncio.timeout(BOUND):
            await was_read.wait()
        assert hub.position == first
        await opened(b"second")  # so that one who lost the first is given the second instead
        async with asyncio.timeout(BOUND):
            assert (await taking).position == first
    finally:
        if taking is not None and not taking.done():
            taking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await taking
        await conn.close()
        await hub.close()
        await db.close()


def test_filters_pick_districts_points_and_kinds(db_dsn: str) -> None:
    with service(db_dsn, role="admin") as client, connected(client, as_role("internal")) as ws:
        subscribe(ws, "huangpu", districtCodes=["310101"])
        subscribe(ws, "point", contactPointCodes=[PUDONG_POINT])
        subscribe(ws, "accepted", kinds=["ACCEPTED"])
        pudong = ok(client, "caseOpen", **intake())["case"]["number"]
        huangpu = ok(client, "caseOpen", **intake(contactPoint=HUANGPU_POINT))["case"]["number"]
        ok(client, "caseAccept", number=huangpu, expectedVersion=1)
        got: dict[str, list[tuple[str, str]]] = {"huangpu": [], "point": [], "accepted": []}
        for _ in range(4):  # 2 Huangpu events, 1 at the Pudong point, 1 acceptance
            message = receive(ws)
            event = message["payload"]["data"]["caseEvents"]
            got[message["id"]].append((event["case"]["number"], event["event"]["kind"]))
        assert got == {
            "huangpu": [(huangpu, "OPENED"), (huangpu, "ACCEPTED")],
            "point": [(pudong, "OPENED")],
            "accepted": [(huangpu, "ACCEPTED")],
        }


def test_resume_after_a_cursor_gets_what_was_missed_then_live_events(db_dsn: str) -> None:
    with service(db_dsn, role="admin") as client:
        with connected(client, as_role("internal")) as ws:
            subscribe(ws)
            first = ok(client, "caseOpen", **intake())["case"]["number"]
            cursor = delivered(ws)["cursor"]
        missed = [ok(client, "caseAccept", number=first, expectedVersion=1)["case"]["number"]]
        missed.append(ok(client, "caseOpen", **intake(contactPoint=HUANGPU_POINT))["case"]["number"])
        with connected(client, as_role("internal")) as ws:
            subscribe(ws, after=cursor)
            again = [delivered(ws) for _ in range(2)]
            assert [(e["case"]["number"], e["event"]["kind"]) for e in again] == [
                (first, "ACCEPTED"),
                (missed[1], "OPENED"),
            ]
            live = ok(client, "caseOpen", **intake())["case"]["number"]
            latest = delivered(ws)
            assert latest["case"]["number"] == live and int(latest["cursor"]) > int(again[1]["cursor"])
            # A cursor the stream never gave, and one that is not a cursor.
            subscribe(ws, "2", after="999999999")
            assert refused(ws, "2") == "BAD_USER_INPUT"
            subscribe(ws, "3", after="C310115")
            assert refused(ws, "3") == "BAD_USER_INPUT"


async def test_a_revoked_key_ends_its_subscriptions_with_a_code(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        key, record = await create_key(conn, Role.INTERNAL, "dashboard")
        with service(db_dsn, role="admin") as client:
            with connected(client, f"Bearer {key}") as ws:
                subscribe(ws)
                ok(client, "caseOpen", **intake())
                delivered(ws)
                assert await revoke_key(conn, record.public_id)
                assert refused(ws) == "UNAUTHENTICATED"
                assert receive(ws) == {"id": "1", "type": "complete"}
                subscribe(ws, "2")  # and no new one on this connection
                assert refused(ws, "2") == "UNAUTHENTICATED"
            # A connection that had not subscribed yet cannot start with the key revoked.
            key, record = await create_key(conn, Role.INTERNAL, "second dashboard")
            with connected(client, f"Bearer {key}") as ws:
                assert await revoke_key(conn, record.public_id)
                subscribe(ws)
                assert refused(ws) == "UNAUTHENTICATED"
            # A new connection with the revoked key is refused at connection_init.
            with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}})
                closed = closed_with(ws)
                assert closed.code == 4403 and closed.reason.startswith("UNAUTHENTICATED:")
    finally:
        await conn.close()


def test_an_expired_token_ends_its_subscriptions(db_dsn: str) -> None:
    env = {"LIAISON_SUBSCRIPTION_RECHECK": "0.2", "LIAISON_JWT_LEEWAY": "0"}
    # The token is valid at connection_init and expires two seconds later.
    with service(db_dsn, role="admin", **env) as client, connected(client, as_role("internal", lifetime=2)) as ws:
        subscribe(ws)
        assert refused(ws) == "UNAUTHENTICATED"  # at the first recheck after its expiry


def test_limits_and_refusals_have_codes(db_dsn: str) -> None:
    env = {
        "LIAISON_MAX_SUBSCRIPTIONS_PER_CONNECTION": "2",
        "LIAISON_MAX_SUBSCRIPTIONS_PER_CREDENTIAL": "3",
        "LIAISON_CONNECTION_INIT_TIMEOUT": "0.2",
        "LIAISON_MAX_MESSAGE_BYTES": "2000",
    }
    with service(db_dsn, role="admin", **env) as client:
        token = as_role("internal")
        with connected(client, token) as first, connected(client, token) as second:
            subscribe(first, "a")
            subscribe(first, "b")
            subscribe(first, "c")
            assert refused(first, "c") == "TOO_MANY_SUBSCRIPTIONS"  # per connection
            subscribe(second, "d")
            subscribe(second, "e")
            assert refused(second, "e") == "TOO_MANY_SUBSCRIPTIONS"  # per credential, across connections
            first.send_json({"id": "a", "type": "complete"})
            subscribe(second, "f")  # a place came free
            ok(client, "caseOpen", **intake())
            assert sorted(receive(second)["id"] for _ in range(2)) == ["d", "f"]
            # A message over the size limit closes the connection: 1009, message too big.
            subscribe(second, "g", districtCodes=["310115"] * 300)
            closed = closed_with(second)
            assert closed.code == 1009 and closed.reason.startswith("PAYLOAD_TOO_LARGE:")
        # connection_init must come in time.
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            assert closed_with(ws).code == 4408
        # The legacy graphql-ws subprotocol is not spoken.
        with client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws:
            assert closed_with(ws).code == 4406
        # A wrong credential is refused with its code.
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json({"type": "connection_init", "payload": {"Authorization": "Bearer lgk_000000000000_x"}})
            closed = closed_with(ws)
            assert closed.code == 4403 and closed.reason.startswith("UNAUTHENTICATED:")
        # Over HTTP, a subscription is refused with a code (it would run as a query and fail).
        for response in (
            client.post("/graphql", json={"query": PUBLIC_SUBSCRIPTION}),
            client.get("/graphql", params={"query": PUBLIC_SUBSCRIPTION}),
        ):
            body = response.json()
            assert "data" not in body and [e["extensions"]["code"] for e in body["errors"]] == ["BAD_REQUEST"], body


def test_disconnects_and_completes_leave_nothing_behind(db_dsn: str) -> None:
    with service(db_dsn, role="admin") as client:
        with connected(client, as_role("internal")) as ws:  # the listener starts with the first subscriber
            subscribe(ws, "warm-up")
            ok(client, "caseOpen", **intake())
            delivered(ws, "warm-up")
        before = hub_state(client)
        assert before[:3] == (0, 0, 0)
        with connected(client, as_role("internal")) as ws:
            for cycle in range(1000):
                subscribe(ws, f"s{cycle}")
                ws.send_json({"id": f"s{cycle}", "type": "complete"})
            subscribe(ws, "last")
            ok(client, "caseOpen", **intake())
            assert delivered(ws, "last")["event"]["kind"] == "OPENED"  # the others completed
            assert hub_state(client)[0] == 1
        for _ in range(20):  # connections dropped while subscribed
            with connected(client, as_role("internal")) as ws:
                subscribe(ws)
                number = ok(client, "caseOpen", **intake())["case"]["number"]
                ok(client, "caseAddNote", number=number, expectedVersion=1, note="x")
                delivered(ws)
        # A closed socket's handler finishes on the server after the client has left.
        wait_until(lambda: hub_state(client) == before, BOUND, f"left behind: {hub_state(client)}, before {before}")


async def test_one_listener_connection_per_process(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        with service(db_dsn, role="admin") as client:
            connections = [connected(client, as_role("internal")) for _ in range(5)]
            sockets = [c.__enter__() for c in connections]
            for ws in sockets:
                subscribe(ws)
            ok(client, "caseOpen", **intake())
            for ws in sockets:
                delivered(ws)
            listeners = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'liaison-graph listener'"
            )
            assert listeners == 1
            for c in connections:
                c.__exit__(None, None, None)
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND application_name LIKE 'liaison-graph%'"
            )
            == 0
        )
    finally:
        await conn.close()


async def test_a_lost_listener_connection_is_made_again_and_nothing_is_lost(db_dsn: str) -> None:
    conn = await asyncpg.connect(db_dsn)
    try:
        with service(db_dsn, role="admin") as client, connected(client, as_role("internal")) as ws:
            subscribe(ws)
            ok(client, "caseOpen", **intake())
            delivered(ws)
            ended = await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = 'liaison-graph listener'"
            )
            assert ended == 1
            number = ok(client, "caseOpen", **intake())["case"]["number"]  # perhaps before it listens again
            assert delivered(ws)["case"]["number"] == number
    finally:
        await conn.close()


def test_open_subscriptions_are_a_metric(db_dsn: str) -> None:
    secret = "s" * 16
    with service(db_dsn, role="admin", LIAISON_METRICS_SECRET=secret) as client:

        def open_now() -> float:
            text = client.get("/metrics", headers={"Authorization": f"Bearer {secret}"}).text
            line = next(x for x in text.splitlines() if x.startswith("liaison_subscriptions_open "))
            return float(line.split()[1])

        assert open_now() == 0
        with connected(client, as_role("internal")) as ws:
            subscribe(ws, "a")
            subscribe(ws, "b", kinds=["ACCEPTED"])
            ok(client, "caseOpen", **intake())  # delivered to "a": both are registered by now
            assert receive(ws)["id"] == "a"
            assert open_now() == 2


async def count_cases(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval('SELECT count(*) FROM "case"')
    finally:
        await conn.close()


def test_only_subscriptions_run_over_the_websocket(db_dsn: str) -> None:
    """Queries and mutations go by HTTP, where the router secret, idempotency keys and the
    write's answer hold: over the socket a mutation wrote and answered without its case, and
    `_service` and `_entities` skipped the router secret."""
    opening = "mutation ($i: CaseOpenInput!) { caseOpen(input: $i) { case { number } userErrors { code } } }"
    before = anyio.run(count_cases, db_dsn)
    with (
        service(db_dsn, role="admin", LIAISON_ROUTER_SECRET="s3cret-shared-with-the-router") as client,
        connected(client, as_role("contact_point", contactPoints=[PUDONG_POINT])) as ws,
    ):
        sent = {
            "write": {"query": opening, "variables": {"i": intake()}},
            "federation": {"query": "{ _service { sdl } }"},
            "query": {"query": "{ regions { code } }"},
            "unnamed": {
                "query": f"query A {{ regions {{ code }} }} {PUBLIC_SUBSCRIPTION.replace('subscription', 'subscription B', 1)}"
            },
        }
        for ident, payload in sent.items():
            ws.send_json({"id": ident, "type": "subscribe", "payload": payload})
            message = receive(ws)
            assert message["id"] == ident and message["type"] == "error", message
            [error] = message["payload"]
            assert error["extensions"]["code"] == (
                "GRAPHQL_VALIDATION_FAILED" if ident == "unnamed" else "OPERATION_NOT_ALLOWED"
            ), message
        subscribe(ws, "still", query=PUBLIC_SUBSCRIPTION)  # the connection still serves subscriptions
        ok(client, "caseOpen", **intake())
        assert delivered(ws, "still")["event"]["kind"] == "OPENED"
    assert anyio.run(count_cases, db_dsn) == before + 1  # the write over HTTP only


def test_a_message_nested_too_deeply_closes_with_a_code(db_dsn: str) -> None:
    """JSON nested past the parser's recursion limit, under the size limit: a protocol error
    (4400 with a coded reason), not a dropped connection and a traceback."""
    deep = "[" * 30000 + "]" * 30000
    with service(db_dsn) as client:
        for message in (
            f'{{"type": "connection_init", "payload": {{"x": {deep}}}}}',
            f'{{"id": "1", "type": "subscribe", "payload": {{"query": "{{ __typename }}", "variables": {{"x": {deep}}}}}}}',
        ):
            with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                if '"subscribe"' in message:
                    ws.send_json({"type": "connection_init", "payload": {}})
                    assert receive(ws) == {"type": "connection_ack"}
                ws.send_text(message)
                closed = closed_with(ws)
                assert closed.code == 4400 and closed.reason.startswith("BAD_REQUEST:"), (closed.code, closed.reason)
