"""Writes against a real `liaison serve`: intake (caseOpen) and a full lifecycle, at c=16 and c=64.

    .venv/bin/python -m bench.writes --dsn postgresql://postgres@127.0.0.1:5432/bench_writes

The database is migrated and given the demo data when empty; its server should run with
fsync on (the default), since a write's cost is mostly its commit. Each client is one
keep-alive HTTP/1.1 connection sending a request and waiting for its answer, a few lines
of asyncio so the load generator costs little of the machine it shares with the service.
Intake spreads over one contact point per district (a district's number counter is a
row every intake of that district and year takes in turn). A lifecycle is caseOpen,
caseAccept, caseStartMediation and caseSettle, each with an idempotency key; its latency
figures are per request. Every run is bounded in requests and in seconds.

``--summaries-rounds N`` measures instead what keeping the case summaries costs intake (or,
with ``--lifecycle``, whole lifecycles) as a
contact point sees it (issue 16: within 20 %): N rounds of intake at c=16 with the summary
triggers on "case" enabled and N with them disabled, alternated (on, off, off, on, ...), with
req/s, latency and the CPU per intake of the service and of the database's backends (the
server must be on this machine; other databases' work in the cluster is left out). The summaries are rebuilt and checked at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any

import asyncpg

from api.startup import prepare_database
from db.access import Role
from db.credentials import create_key
from db.summaries import check, rebuild

from .benchdb import postmaster_pid_of
from .peers import start_ours, stop
from .procs import backends_cpu_seconds, cpu_seconds

POINTS = """SELECT DISTINCT ON (p.district_code) p.code FROM contact_point p
             JOIN district d ON d.code = p.district_code WHERE d.region_code = '310000' ORDER BY p.district_code, p.code"""
PAYLOAD = "{ case { number version } userErrors { code } }"
OPEN = f"mutation ($i: CaseOpenInput!) {{ caseOpen(input: $i) {PAYLOAD} }}"
STEPS = [
    ("caseAccept", "CaseStepInput", {}),
    ("caseStartMediation", "CaseStepInput", {}),
    ("caseSettle", "CaseSettleInput", {"amountRecovered": "80.00"}),
]


class Client:
    """One keep-alive connection: POST a JSON body, read the JSON answer."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        data = json.dumps(body).encode()
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {self.key}\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        self.writer.write(head.encode() + data)
        headers = (await self.reader.readuntil(b"\r\n\r\n")).decode().lower()
        length = int(headers.split("content-length:", 1)[1].split("\r\n", 1)[0])
        return json.loads(await self.reader.readexactly(length))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


@dataclass
class Result:
    name: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    service_cpu: float = 0.0
    """Seconds of CPU the service's processes spent in the run."""
    database_cpu: float = 0.0
    """Seconds of CPU the database's backends spent in the run (0 when not measured)."""

    def line(self) -> str:
        ordered = sorted(self.latencies)
        p50 = ordered[len(ordered) // 2] * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        return (
            f"| {self.name} | {self.concurrency} | {self.requests:,} | {self.requests / self.seconds:,.0f} |"
            f" {p50:.1f} | {p99:.1f} | {self.errors} | {self.service_cpu * 1000 / self.requests:.2f} |"
        )


async def _timed(client: Client, body: dict[str, Any], result: Result) -> dict[str, Any] | None:
    started = time.perf_counter()
    answer = await client.post(body)
    result.latencies.append(time.perf_counter() - started)
    result.requests += 1
    field = next(iter((answer.get("data") or {None: None}).values()))
    if answer.get("errors") or not field or field["userErrors"]:
        result.errors += 1
        return None
    return field


async def run(port: int, key: str, points: list[str], name: str, concurrency: int, total: int, limit: float) -> Result:
    result = Result(name, concurrency, 0, 0, 0.0, [])
    counter = itertools.count()
    deadline = time.monotonic() + limit

    async def worker(n: int) -> None:
        client = Client(port, key)
        try:
            while time.monotonic() < deadline:
                i = next(counter)
                if i >= total:
                    return
                intake = {
                    "contactPoint": points[i % len(points)],
                    "kind": "COMPLAINT",
                    "channel": "ON_SITE",
                    "category": "AFTER_SALES_SERVICE",
                    "summary": "bench",
                    "amountClaimed": "100.00",
                    "idempotencyKey": f"{name}-{concurrency}-{i}",
                }
                opened = await _timed(client, {"query": OPEN, "variables": {"i": intake}}, result)
                if not name.startswith("lifecycle") or opened is None:
                    continue
                number, version = opened["case"]["number"], opened["case"]["version"]
                for step, input_type, extra in STEPS:
                    query = f"mutation ($i: {input_type}!) {{ {step}(input: $i) {PAYLOAD} }}"
                    retry_key = f"{name}-{concurrency}-{i}-{step}"
                    values = {"number": number, "expectedVersion": version, "idempotencyKey": retry_key, **extra}
                    done = await _timed(client, {"query": query, "variables": {"i": values}}, result)
                    if done is None:
                        break
                    version = done["case"]["version"]
        finally:
            client.close()

    started = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    result.seconds = time.monotonic() - started
    return result


async def prepare(dsn: str, label: str = "bench/writes.py") -> tuple[str, list[str]]:
    """Migrate and load ``dsn`` when empty; a contact point key (``label``) for one point per district, and those points."""
    await prepare_database(dsn, demo=True)
    conn = await asyncpg.connect(dsn)
    try:
        points = [r[0] for r in await conn.fetch(POINTS)]
        key, _ = await create_key(conn, Role.CONTACT_POINT, label, contact_point_codes=points)
        fsync = await conn.fetchval("SHOW fsync")
    finally:
        await conn.close()
    print(f"fsync={fsync}, {len(points)} contact points (one per district)")
    return key, points


SUMMARY_TRIGGERS = ("case_summaries_insert", "case_summaries_update", "case_summaries_delete")


async def _set_summaries(dsn: str, enabled: bool) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for trigger in SUMMARY_TRIGGERS:
            await conn.execute(f'ALTER TABLE "case" {"ENABLE" if enabled else "DISABLE"} TRIGGER {trigger}')
    finally:
        await conn.close()


async def _repair(dsn: str) -> int:
    """Rebuild the summaries the disabled rounds left behind; the differences ``check`` finds after."""
    conn = await asyncpg.connect(dsn)
    try:
        await rebuild(conn)
        return len(await check(conn))
    finally:
        await conn.close()


def compare_summaries(
    dsn: str, peer_pid: int, port: int, key: str, points: list[str], args: argparse.Namespace
) -> None:
    """Intake at c=16 with and without the summary triggers, alternated round by round."""
    postmaster = asyncio.run(postmaster_pid_of(dsn))
    database = dsn.rsplit("/", 1)[1].split("?", 1)[0]
    print(
        "| round | summaries | requests | req/s | p50 ms | p99 ms | errors | service CPU ms/req | backends' CPU ms/req |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    totals: dict[bool, list[Result]] = {True: [], False: []}
    try:
        for turn in range(2 * args.summaries_rounds):
            enabled = turn % 4 in (0, 3)
            asyncio.run(_set_summaries(dsn, enabled))
            cpu, db_cpu = cpu_seconds(peer_pid), backends_cpu_seconds(postmaster, database)
            name = f"{'lifecycle' if args.lifecycle else 'intake'}-{turn}"
            result = asyncio.run(run(port, key, points, name, 16, args.requests, args.seconds))
            result.service_cpu = cpu_seconds(peer_pid) - cpu
            result.database_cpu = backends_cpu_seconds(postmaster, database) - db_cpu
            totals[enabled].append(result)
            line = result.line().split("|")[3:-1]
            on = "kept" if enabled else "off"
            print(f"| {turn + 1} | {on} |{'|'.join(line)}| {result.database_cpu * 1000 / result.requests:.2f} |")
    finally:
        asyncio.run(_set_summaries(dsn, True))
    for enabled, results in totals.items():
        rate = sum(r.requests for r in results) / sum(r.seconds for r in results)
        requests = sum(r.requests for r in results)
        both = sum(r.service_cpu + r.database_cpu for r in results) * 1000 / requests
        print(f"summaries {'kept' if enabled else 'off'}: {rate:,.0f} req/s, service + backends' CPU {both:.2f} ms/req")
    print(f"stats check after rebuild: {asyncio.run(_repair(dsn))} differences")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", required=True, help="a database to write into (migrated and loaded when empty)")
    parser.add_argument("--requests", type=int, default=5000, help="intakes per run (lifecycles: a quarter)")
    parser.add_argument("--seconds", type=float, default=20, help="each run stops after this long at the latest")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes of the service")
    parser.add_argument("--summaries-rounds", type=int, default=0, help="compare intake with and without the summaries")
    parser.add_argument("--lifecycle", action="store_true", help="with --summaries-rounds: lifecycles, not intakes")
    args = parser.parse_args()
    key, points = asyncio.run(prepare(args.dsn))
    peer = start_ours("writes", args.dsn, "compiled", workers=args.workers)
    try:
        if args.summaries_rounds:
            compare_summaries(args.dsn, peer.pid, peer.port, key, points, args)
            return
        print("| run | c | requests | req/s | p50 ms | p99 ms | errors | service CPU ms/req |")
        print("|---|---|---|---|---|---|---|---|")
        for name, total in (("intake", args.requests), ("lifecycle", args.requests // 4)):
            for concurrency in (16, 64):
                cpu = cpu_seconds(peer.pid)
                result = asyncio.run(run(peer.port, key, points, name, concurrency, total, args.seconds))
                result.service_cpu = cpu_seconds(peer.pid) - cpu
                print(result.line(), flush=True)
    finally:
        stop(peer)


if __name__ == "__main__":
    main()
