"""No acknowledged write lost or doubled while the database and the service fail under load.

Clients open cases and take each through accept, mediation and settlement, every request
with its own idempotency key, retried with the same key after any error or timeout. While
they run, the database is killed (SIGKILL of the embedded postmaster) and comes back, the
service's sessions are terminated (pg_terminate_backend), and the service is SIGTERMed and
started again. Then SQL counts what the database holds. The service is never restarted
for the database's faults: it must recover by itself. Runs its own embedded server.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx2

from api.startup import prepare_database
from db.embedded import EmbeddedPostgres

from .support import bearer, live_service
from .writes_support import document

CLIENTS = 8
LIFECYCLES = 5
"""Per client: CLIENTS x LIFECYCLES cases, four acknowledged writes each."""
STEPS = [("caseAccept", {}), ("caseStartMediation", {}), ("caseSettle", {"amountRecovered": "50.00"})]
POINT = "CP310115-00376"
IMPATIENCE = 0.005
"""Seconds an impatient first attempt waits for its answer."""
DEADLINE = 240.0
"""Seconds the whole run may take; a client still retrying then fails the test."""


@dataclass
class Shared:
    """What the clients and the fault injector share: where the service is, and what was acknowledged."""

    base: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: list[tuple[str, str, int]] = field(default_factory=list)
    """(summary tag, mutation, version after it)."""
    retries: int = 0
    abandoned: int = 0
    """First attempts given up on before the answer came."""
    refusals: list[Any] = field(default_factory=list)

    def count(self) -> int:
        with self.lock:
            return len(self.acknowledged)


def until_acknowledged(
    shared: Shared, mutation: str, values: dict[str, Any], stop: float, impatient: bool
) -> dict[str, Any]:
    """Send until the service answers the write, with the same key every time. An impatient
    client gives up on its first attempt after IMPATIENCE seconds: the write usually
    commits all the same, and only the key keeps the retry from writing it twice."""
    body = {"query": document(mutation), "variables": {"input": values}}
    headers = bearer("contact_point", contactPoints=[POINT], lifetime=600)
    attempt = 0
    while time.monotonic() < stop:
        timeout = IMPATIENCE if impatient and attempt == 0 else 5.0
        attempt += 1
        try:
            response = httpx2.post(shared.base + "/graphql", json=body, headers=headers, timeout=timeout)
            answer = response.json()
            result = (answer.get("data") or {}).get(mutation)
            if result is not None and not answer.get("errors"):
                if result["userErrors"]:
                    with shared.lock:
                        shared.refusals.append((mutation, result["userErrors"]))
                return result
        except httpx2.TimeoutException:
            if attempt == 1 and impatient:
                with shared.lock:
                    shared.abandoned += 1
        except (httpx2.TransportError, ValueError):
            pass
        with shared.lock:
            shared.retries += 1
        time.sleep(0.1)
    raise AssertionError(f"{mutation} never acknowledged")


def client(shared: Shared, n: int, stop: float) -> None:
    for i in range(LIFECYCLES):
        tag = f"fault-{n}-{i}"
        intake = {"contactPoint": POINT, "kind": "COMPLAINT", "channel": "ON_SITE", "category": "OTHER",
                  "summary": tag, "amountClaimed": "100.00", "idempotencyKey": f"{tag}-open"}  # fmt: skip
        opened = until_acknowledged(shared, "caseOpen", intake, stop, impatient=i % 2 == 0)
        if opened["userErrors"]:
            return
        number, version = opened["case"]["number"], opened["case"]["version"]
        with shared.lock:
            shared.acknowledged.append((tag, "caseOpen", version))
        for mutation, extra in STEPS:
            values = {"number": number, "expectedVersion": version, "idempotencyKey": f"{tag}-{mutation}", **extra}
            done = until_acknowledged(shared, mutation, values, stop, impatient=i % 2 == 1)
            if done["userErrors"]:
                return
            version = done["case"]["version"]
            with shared.lock:
                shared.acknowledged.append((tag, mutation, version))


def wait_for(shared: Shared, acknowledged: int, stop: float) -> None:
    while shared.count() < acknowledged:
        assert time.monotonic() < stop, f"only {shared.count()} writes acknowledged"
        time.sleep(0.05)


async def terminate_service_sessions(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'liaison-graph'"
        )
    finally:
        await conn.close()


async def tally(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return dict(
            await conn.fetchrow(
                """SELECT
                 (SELECT count(*) FROM "case" WHERE summary LIKE 'fault-%') AS cases,
                 (SELECT count(DISTINCT summary) FROM "case" WHERE summary LIKE 'fault-%') AS tags,
                 (SELECT count(*) FROM case_event e JOIN "case" c ON c.id = e.case_id WHERE c.summary LIKE 'fault-%')
                    AS events,
                 (SELECT count(*) FROM (SELECT 1 FROM case_event e JOIN "case" c ON c.id = e.case_id
                   WHERE c.summary LIKE 'fault-%' GROUP BY e.case_id, e.kind HAVING count(*) > 1) twice) AS doubled_steps,
                 (SELECT count(*) FROM case_event e LEFT JOIN "case" c ON c.id = e.case_id WHERE c.id IS NULL) AS orphans,
                 (SELECT count(*) - count(DISTINCT number) FROM "case") AS numbers_twice,
                 (SELECT max(substr(number, 14)::int) - min(substr(number, 14)::int) + 1 - count(*)
                    FROM "case" WHERE summary LIKE 'fault-%') AS number_gaps,
                 (SELECT count(*) FROM idempotency_key) AS keys,
                 (SELECT count(*) FROM "case" WHERE summary LIKE 'fault-%' AND status = 'settled') AS settled"""
            )
        )
    finally:
        await conn.close()


def test_acknowledged_writes_survive_faults_exactly_once(server: EmbeddedPostgres, tmp_path: Path) -> None:
    dsn = server.dsn
    asyncio.run(prepare_database(dsn, demo=True))
    stop = time.monotonic() + DEADLINE
    faults: list[str] = []
    with contextlib.ExitStack() as stack:
        first = live_service(dsn, tmp_path, LIAISON_DB_TIMEOUT="2", LIAISON_EXECUTION="compiled")
        shared = Shared(stack.enter_context(first))
        threads = [threading.Thread(target=client, args=(shared, n, stop), daemon=True) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        wait_for(shared, 20, stop)
        server.kill()
        time.sleep(1.0)
        server.start()
        faults.append("SIGKILL of the postmaster, restarted after 1 s")
        wait_for(shared, shared.count() + 20, stop)
        killed = asyncio.run(terminate_service_sessions(dsn))
        faults.append(f"pg_terminate_backend of the service's {killed} sessions")
        wait_for(shared, shared.count() + 20, stop)
        first_exit = stack.pop_all()
        first_exit.close()  # SIGTERM, graceful shutdown
        shared.base = stack.enter_context(live_service(dsn, tmp_path, LIAISON_DB_TIMEOUT="2"))
        faults.append("SIGTERM of the service, started again")
        for thread in threads:
            thread.join(max(stop - time.monotonic(), 0))
        assert not any(t.is_alive() for t in threads), "clients still retrying at the deadline"
    counts = asyncio.run(tally(dsn))
    print(f"\nwrite faults: {CLIENTS} clients, faults: {'; '.join(faults)}; retries {shared.retries},"
          f" first attempts abandoned {shared.abandoned}; {counts}")  # fmt: skip
    cases = CLIENTS * LIFECYCLES
    assert shared.refusals == []
    assert shared.abandoned > 0  # some acknowledgements were lost: the keys were put to the test
    assert len(shared.acknowledged) == cases * 4
    assert counts["cases"] == counts["tags"] == cases  # every acknowledged intake once, no key made two
    assert counts["events"] == cases * 4 and counts["doubled_steps"] == 0  # every step once
    assert counts["settled"] == cases
    assert counts["orphans"] == 0 and counts["numbers_twice"] == 0 and counts["number_gaps"] == 0
