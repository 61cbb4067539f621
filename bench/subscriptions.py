"""Case event delivery: commit-to-client latency with 100 subscribers and 200 writes/s, and
the memory an idle subscription holds.

    .venv/bin/python -m bench.subscriptions --dsn postgresql://postgres@127.0.0.1:5432/bench_subs

Two `liaison serve` processes over the database (migrated and given the demo data when
empty): writes go to one (caseOpen over HTTP, paced open-loop at ``--rate`` per second
across one contact point per Shanghai district), subscribers listen on the other, so every
event crosses processes through LISTEN/NOTIFY as in production. Each subscriber is a
district dashboard: its own websocket, a filter on one district (round robin over the 16),
half with an internal token (consumers masked), half a case officer of that district
(consumers in full). Latency is the client's clock at receipt minus the event's
``committedAt`` (PostgreSQL's clock when the commit's trigger gave it its position: just
before the commit, so the figure includes the commit itself); both clocks are this
machine's. Beside it, the time from the writer's receipt of its answer (the commit
acknowledged) to the subscriber's receipt, both on the bench's clock: what a person who
saved a case and watches a dashboard would see (negative when the event came first). Every
subscriber's events are checked: all of its district's writes, each once, in cursor
order (the writer's answers may come back in another order than the commits). The subscribers speak graphql-transport-ws with the plain ``websockets`` library
(a few lines), so the load generator costs the shared machine little.

Memory per idle subscription: the subscriber process's RSS before and after opening
``--idle`` subscriptions (10 per connection) that receive nothing, divided by their number.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import jwt
import websockets

from db.case_events import head_position

from .peers import JWT_ENV, start_ours, stop
from .procs import cpu_seconds, rss_mb
from .writes import OPEN, Client, prepare

SUBSCRIPTION = """subscription ($filter: CaseEventStreamFilter) {
  caseEvents(filter: $filter) { cursor committedAt event { kind } case { number consumerName } }
}"""
ENV = {
    "LIAISON_MAX_SUBSCRIPTIONS_PER_CREDENTIAL": "100000",
    "LIAISON_MAX_SUBSCRIPTIONS_PER_CONNECTION": "10",
}


def token(role: str, sub: str, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {"iss": JWT_ENV["LIAISON_JWT_ISSUER"], "aud": JWT_ENV["LIAISON_JWT_AUDIENCE"], "sub": sub}
    payload |= {"iat": now, "exp": now + 6 * 3600, "role": role, **claims}
    return jwt.encode(payload, JWT_ENV["LIAISON_JWT_SECRET"], algorithm="HS256")


@dataclass
class Subscriber:
    district: str
    role: str
    latencies: list[float] = field(default_factory=list)
    cursors: list[int] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    received: list[float] = field(default_factory=list)


async def connect(port: int, authorization: str) -> websockets.ClientConnection:
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": authorization}}))
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    return ws


async def subscribe(ws: websockets.ClientConnection, ident: str, district: str, after: str | None) -> None:
    wanted: dict[str, Any] = {"districtCodes": [district]}
    if after is not None:
        wanted["after"] = after
    payload = {"query": SUBSCRIPTION, "variables": {"filter": wanted}}
    await ws.send(json.dumps({"id": ident, "type": "subscribe", "payload": payload}))


@dataclass
class Tally:
    """Deliveries so far, and the event set once ``expected`` of them came."""

    expected: int | None = None
    received: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def count(self) -> None:
        self.received += 1
        if self.expected is not None and self.received >= self.expected:
            self.done.set()


async def listen(ws: websockets.ClientConnection, subscriber: Subscriber, stop_at: asyncio.Event, tally: Tally) -> None:
    while not stop_at.is_set():
        try:
            async with asyncio.timeout(1):
                text = await ws.recv()
        except TimeoutError:
            continue
        received = time.time()
        message = json.loads(text)
        if message["type"] != "next":
            raise RuntimeError(f"subscriber got {message}")
        event = message["payload"]["data"]["caseEvents"]
        committed = datetime.datetime.fromisoformat(event["committedAt"]).timestamp()
        subscriber.latencies.append(received - committed)
        subscriber.received.append(received)
        subscriber.cursors.append(int(event["cursor"]))
        subscriber.numbers.append(event["case"]["number"])
        tally.count()


async def write(
    port: int, key: str, points: list[str], rate: float, seconds: float, acknowledged: dict[str, float]
) -> dict[str, list[str]]:
    """caseOpen at ``rate`` per second for ``seconds``, open loop; the case numbers by district,
    and when the writer had each answer (its commit acknowledged) in ``acknowledged``."""
    total = int(rate * seconds)
    counter = itertools.count()
    opened: dict[str, list[str]] = {}
    started = time.monotonic()

    async def worker() -> None:
        client = Client(port, key)
        try:
            while (i := next(counter)) < total:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                point = points[i % len(points)]
                intake = {"contactPoint": point, "kind": "COMPLAINT", "channel": "ON_SITE",
                          "category": "AFTER_SALES_SERVICE", "summary": "bench", "consumerName": "张三"}  # fmt: skip
                answer = await client.post({"query": OPEN, "variables": {"i": intake}})
                number = answer["data"]["caseOpen"]["case"]["number"]
                acknowledged[number] = time.time()
                opened.setdefault(number[1:7], []).append(number)
        finally:
            client.close()

    await asyncio.gather(*(worker() for _ in range(16)))
    return opened


async def head(dsn: str) -> str:
    conn = await asyncpg.connect(dsn)
    position = await head_position(conn)
    await conn.close()
    return str(position)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def delivery(dsn: str, writer: int, reader: int, key: str, points: list[str], args: argparse.Namespace) -> None:
    districts = sorted({p[2:8] for p in points})
    subscribers = []
    for n in range(args.subscribers):
        district = districts[n % len(districts)]
        subscribers.append(Subscriber(district, "internal" if n % 2 == 0 else "case_officer"))
    after = await head(dsn)
    sockets = []
    for n, s in enumerate(subscribers):
        claims = {"districts": [s.district]} if s.role == "case_officer" else {}
        ws = await connect(reader, "Bearer " + token(s.role, f"bench/subscriptions.py/{n}", **claims))
        await subscribe(ws, "1", s.district, after)
        sockets.append(ws)
    stop_at, tally = asyncio.Event(), Tally()
    listeners = [asyncio.create_task(listen(ws, s, stop_at, tally)) for ws, s in zip(sockets, subscribers, strict=True)]
    await asyncio.sleep(1)  # every subscription registered before the first write
    cpu = cpu_seconds(args.reader_pid)
    acknowledged: dict[str, float] = {}
    opened = await write(writer, key, points, args.rate, args.seconds, acknowledged)
    expected = sum(len(opened.get(s.district, [])) for s in subscribers)
    tally.expected = expected
    if tally.received >= expected:
        tally.done.set()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):  # what has not come by then counts as missing
            await tally.done.wait()
    reader_cpu = cpu_seconds(args.reader_pid) - cpu
    stop_at.set()
    await asyncio.gather(*listeners)
    for ws in sockets:
        await ws.close()
    latencies = [x for s in subscribers for x in s.latencies]
    after_ack = [r - acknowledged[n] for s in subscribers for n, r in zip(s.numbers, s.received, strict=True)]
    in_order = all(s.cursors == sorted(s.cursors) for s in subscribers)
    # Each of its district's writes once: as sets, since the writer's answers may come in another
    # order than the commits (the order is checked by the cursors above).
    complete = all(sorted(s.numbers) == sorted(opened.get(s.district, [])) for s in subscribers)
    writes = sum(len(v) for v in opened.values())
    print(
        f"| {args.subscribers} | {writes / args.seconds:.0f} | {writes:,} | {len(latencies):,} of {expected:,} |"
        f" {percentile(latencies, 0.5) * 1000:.1f} | {percentile(latencies, 0.99) * 1000:.1f} |"
        f" {max(latencies) * 1000:.1f} | {percentile(after_ack, 0.5) * 1000:.1f} |"
        f" {percentile(after_ack, 0.99) * 1000:.1f} | {in_order and complete} | {reader_cpu / args.seconds:.2f} |",
        flush=True,
    )


async def idle(reader: int, args: argparse.Namespace) -> None:
    """RSS of the subscriber process before and after ``--idle`` subscriptions that receive nothing."""
    before = rss_mb(args.reader_pid) or 0.0
    sockets = []
    authorization = "Bearer " + token("internal", "bench/subscriptions.py/idle")
    for _ in range(args.idle // 10):
        ws = await connect(reader, authorization)
        for i in range(10):
            await subscribe(ws, str(i), "110000", None)  # a district with no contact points: nothing comes
        sockets.append(ws)
    await asyncio.sleep(2)
    after = rss_mb(args.reader_pid) or 0.0
    for ws in sockets:
        await ws.close()
    per = (after - before) * 1024 / args.idle
    print(f"idle: {args.idle} subscriptions on {len(sockets)} connections: RSS {before:.1f} -> {after:.1f} MiB,"
          f" {per:.1f} KiB per subscription (its share of a connection included)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", required=True, help="a database to write into (migrated and loaded when empty)")
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=200, help="writes per second")
    parser.add_argument("--seconds", type=float, default=20, help="how long to write")
    parser.add_argument("--idle", type=int, default=1000, help="idle subscriptions for the memory figure")
    args = parser.parse_args()
    key, points = asyncio.run(prepare(args.dsn, "bench/subscriptions.py"))
    writer = start_ours("subscriptions-writer", args.dsn, "compiled")
    reader = start_ours("subscriptions-reader", args.dsn, "compiled", env=ENV)
    args.reader_pid = reader.pid
    try:
        print(
            "| subscribers | writes/s | writes | deliveries | p50 ms | p99 ms | max ms |"
            " p50 ms after ack | p99 ms after ack | all, in order | reader CPU s/s |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        asyncio.run(delivery(args.dsn, writer.port, reader.port, key, points, args))
        asyncio.run(idle(reader.port, args))
    finally:
        stop(writer)
        stop(reader)


if __name__ == "__main__":
    main()
