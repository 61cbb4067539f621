"""Faults under load: a real ``liaison serve`` over its own embedded PostgreSQL, made to fail.

    .venv/bin/python -m bench.faults                          # every scenario, ~4 minutes
    .venv/bin/python -m bench.faults frozen killed --json faults.json
    .venv/bin/python -m bench.faults --quick frozen           # the smallest form (tests/test_faults_bench.py)

The service runs as a child process on 127.0.0.1 (a free port), without DATABASE_URL, so
it owns an embedded PostgreSQL in a temporary data directory (``--data-dir`` keeps one and
reuses it). The demo data is loaded by the first start; every scenario then starts its own
``liaison serve`` over that directory, with an internal role's token for its clients, and
stops it at the end. Two saved queries are saved through ``savedOperationSave`` (admin):
``FaultRegions`` (the regions and their districts, light) and ``FaultStatistics`` (20
aliases of network case statistics, each over a year starting a month after the last:
about half a second alone, heavy in numbers).

Scenarios (by name on the command line; all by default):

- ``frozen``: the postmaster and its children stopped (SIGSTOP) for N seconds, then
  continued, while clients run /graphql and /queries/FaultRegions.
- ``killed``: the postmaster killed (SIGKILL) under the same load. The service owns it, so
  it must bring it back by itself within the bound (10 s). When it does not, the script
  restarts the service (up to three attempts) and reports how many starts that took.
- ``sigterm``: a lock on ``region`` held by another session makes requests hang; SIGTERM
  the service while they are in flight, so they outlive ``LIAISON_SHUTDOWN_GRACE``; then
  start it again.
- ``saturated``: a small pool (``LIAISON_POOL_SIZE``), rounds of 32 parallel runs of
  /queries/FaultStatistics, while /readyz is polled: the database is healthy throughout.
- ``slow``: connections that send their headers, or their body, a byte at a time, while
  normal clients run /graphql; does the server close the slow ones, and are the others served?
- ``memory``: ``bench/memory_probe.py``'s ``run(base_url, pid, count, size)``: distinct
  documents of 95,000 characters from one anonymous client (2,000 of them; the issue's
  probe was 6,000: ``--probe-count 6000``, about five minutes more), under the service's
  default budget and cost limit. Reported as not run, with no figures, when that module
  is missing.

What each figure means:

- requests sent: by the scenario's clients, slow connections included (memory: as the
  probe reports them). The script's own checks of /readyz and recovery are not counted.
- answers: per endpoint, ``<status> <code>``, the code being ``extensions.code`` of the
  first error in a JSON body; ``200 ok`` is an answer without errors; ``uncoded`` a body
  with no code or not JSON. Connection failures are not answers: ``reset`` (closed or reset
  while waiting), ``refused`` (no connection), ``timeout`` (the client's 30 s ran out);
  for slow connections also ``held open`` (the server still held it at the end).
- uncoded 5xx: answers with a status of 500 or more and no code. Must be 0.
  (A reset often follows one: the server closes the connection after a plain 500, and the
  next request sent on it, to whichever endpoint, fails.)
- 5xx without X-Request-ID: such answers the caller cannot quote to an operator.
- recovery: seconds from the end of the fault (SIGCONT; SIGKILL; the new start after
  SIGTERM, whose bound is 20 s as it includes a start; the end of the load otherwise) to the first 200 on /readyz, and to the first
  good GraphQL answer (200, data, no errors); ``never`` when the bound ran out first.
- RSS: the service process's resident memory (VmRSS, MiB; not its PostgreSQL) just before
  the fault and after recovery (after a restart: the new process's).
- notes: what else a scenario saw: after a kill, whether the service restarted the
  postmaster, whether the dead one was left a zombie, how many starts of the service it
  then took (and their exit codes) and whether the dead server's socket directory was
  left in /tmp; after SIGTERM, requests in flight, the exit code and seconds to exit;
  under saturation, one run alone, each round's seconds and /readyz's answers meanwhile;
  beside slow connections, the normal clients' p50/p99 before and during.

A scenario fails when it has an uncoded 5xx, or the service did not recover within its
bound; ``slow`` also when a slow connection is still held when its 20 s end (the header
and body timeouts must be shorter), ``memory`` when RSS after the probe is above 150 MB
(issue 15's target). The exit code is then 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import importlib
import inspect
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx2

from .peers import JWT_ENV, ROOT, VENV, Peer, clean_env, free_port, spawn, stop, wait_ready
from .perf import bench_token
from .procs import descendants, rss_mb, state
from .queries import Request

__all__ = ["FULL", "QUICK", "Plan", "Report", "main"]

REGIONS = "{ regions { code districts { code } } }"
SAVED_REGIONS = "query FaultRegions " + REGIONS
CASE_FIGURES = (
    "total settledOnlineMediations settlementRate medianDaysToClose amountClaimed amountRecovered "
    + " ".join(f"by{k.title()} {{ {k} count }}" for k in ("status", "kind", "channel", "category"))
)


def _year_from(i: int) -> str:
    """The i-th alias of the heavy query: network case statistics over a year, from month i."""
    year, month = 2019 + i // 12, i % 12 + 1
    period = f'{{from: "{year}-{month:02}-01", before: "{year + 1}-{month:02}-01"}}'
    return f"y{i}: networkStats {{ cases(period: {period}) {{ {CASE_FIGURES} }} }}"


SAVED_STATISTICS = "query FaultStatistics {\n  " + "\n  ".join(_year_from(i) for i in range(20)) + "\n}"
SERVICE_ENV = {
    **JWT_ENV,
    "LIAISON_DEMO_DATA": "1",
    "LIAISON_BUDGET_POINTS": "1000000000000",  # the rate limit never answers in place of the fault
    "LIAISON_MAX_COST": "10000000",
}
CLIENT_TIMEOUT = 30.0
MEMORY_BOUND_MB = 150.0
"""Issue 15's target for RSS after the distinct-document probe."""


@dataclass(frozen=True)
class Plan:
    clients: int
    """Concurrent normal clients."""
    warm: float
    """Seconds of load before a fault."""
    freeze: float
    recovery_bound: float
    max_requests: int
    """Requests per scenario at most, whatever the time."""
    grace: float
    """LIAISON_SHUTDOWN_GRACE in the sigterm scenario."""
    parallel_runs: int
    rounds: int
    pool_size: int
    slow_clients: int
    slow_seconds: float
    probe_count: int
    probe_size: int


FULL = Plan(clients=16, warm=2, freeze=8, recovery_bound=10, max_requests=20_000, grace=2, parallel_runs=32,
            rounds=2, pool_size=4, slow_clients=50, slow_seconds=20, probe_count=2000, probe_size=95_000)  # fmt: skip
QUICK = Plan(clients=4, warm=1, freeze=5, recovery_bound=10, max_requests=20_000, grace=1, parallel_runs=32,
             rounds=1, pool_size=4, slow_clients=8, slow_seconds=4, probe_count=50, probe_size=95_000)  # fmt: skip


# --- what a scenario saw ------------------------------------------------------------------------


@dataclass
class Report:
    name: str
    title: str
    ran: bool = True
    why_not: str | None = None
    sent: int = 0
    answers: dict[str, Counter[str]] = field(default_factory=dict)
    uncoded_5xx: int = 0
    no_request_id_5xx: int = 0
    recovery: dict[str, Any] = field(default_factory=dict)
    rss_before_mb: float | None = None
    rss_after_mb: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def check(self) -> None:
        if not self.ran:
            return
        if self.uncoded_5xx:
            self.failures.append(f"{self.uncoded_5xx} uncoded 5xx")
        if self.recovery and not self.recovery.get("recovered"):
            self.failures.append(f"not recovered within {self.recovery['bound_s']} s")

    def as_json(self) -> dict[str, Any]:
        found = dataclasses.asdict(self)
        found["answers"] = {k: dict(v.most_common()) for k, v in self.answers.items()}
        return found


class Tally:
    """Answers to a scenario's requests, counted into its report as they come."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.in_flight = 0
        self.latencies: list[float] = []

    def count(self, endpoint: str, answer: str) -> None:
        self.report.answers.setdefault(endpoint, Counter())[answer] += 1

    def response(self, endpoint: str, response: httpx2.Response) -> None:
        self.answer(endpoint, response.status_code, _code(response.content), "x-request-id" in response.headers)

    def answer(self, endpoint: str, status: int, code: str | None, request_id: bool) -> None:
        if status >= 500 and code in (None, "ok"):
            self.report.uncoded_5xx += 1
        if status >= 500 and not request_id:
            self.report.no_request_id_5xx += 1
        self.count(endpoint, f"{status} {code or 'uncoded'}")

    def failure(self, endpoint: str, exc: BaseException) -> None:
        if isinstance(exc, httpx2.ConnectError | ConnectionRefusedError):
            self.count(endpoint, "refused")
        elif isinstance(exc, httpx2.TimeoutException | TimeoutError):
            self.count(endpoint, "timeout")
        else:
            self.count(endpoint, "reset")


def _code(body: bytes) -> str | None:
    """The first error's ``extensions.code``; ``ok`` for JSON without errors; None otherwise."""
    try:
        found = json.loads(body)
        if isinstance(found, dict) and "errors" not in found:
            return "ok"
        return str(found["errors"][0]["extensions"]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


# --- the service ------------------------------------------------------------------------------


@dataclass
class Service:
    """``liaison serve`` over the embedded cluster in ``data_dir`` (which it starts and owns)."""

    data_dir: Path
    name: str
    env: dict[str, str]
    peer: Peer | None = None
    starts: int = 0

    @property
    def base(self) -> str:
        assert self.peer is not None
        return f"http://127.0.0.1:{self.peer.port}"

    @property
    def pid(self) -> int:
        assert self.peer is not None
        return self.peer.pid

    def start(self) -> int | None:
        """Start it and wait for /readyz 200; the exit code instead when it died starting."""
        self.starts += 1
        port = free_port()
        env = {**clean_env(), **SERVICE_ENV, **self.env, "HOST": "127.0.0.1", "PORT": str(port)}
        env["LIAISON_DATA_DIR"] = str(self.data_dir)
        process, log_path = spawn(f"faults-{self.name}-{self.starts}", [str(VENV / "liaison"), "serve"], env, ROOT)
        self.peer = Peer(self.name, "ours", port, process, log_path)
        try:
            wait_ready(self.peer, Request("GET", "/readyz"))
        except SystemExit:
            return process.returncode if process.returncode is not None else -1
        return None

    def stop(self) -> None:
        if self.peer is not None:
            stop(self.peer)

    def postmaster(self) -> tuple[int, Path]:
        """PID and socket directory of the running postmaster, from its postmaster.pid."""
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return int(lines[0]), Path(lines[4].strip())

    def dsn(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.postmaster()[1]}"


def _graphql(query: str, token: str, **extra: Any) -> Request:
    body = json.dumps({"query": query, **extra}).encode()
    return Request("POST", "/graphql", body, {"content-type": "application/json", "authorization": f"Bearer {token}"})


def _saved(name: str, token: str) -> Request:
    return Request("GET", f"/queries/{name}", None, {"authorization": f"Bearer {token}"})


async def _send(client: httpx2.AsyncClient, base: str, request: Request) -> httpx2.Response:
    return await client.request(request.method, base + request.path, content=request.body, headers=request.headers)


def _good(response: httpx2.Response) -> bool:
    if response.status_code != 200:
        return False
    body = response.json()
    return "errors" not in body and bool(body.get("data"))


# --- load and recovery --------------------------------------------------------------------------


@dataclass
class Load:
    """Clients sending ``requests`` in turn until stopped or ``max_requests`` are sent."""

    base: str
    requests: list[Request]
    tally: Tally
    clients: int
    max_requests: int
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Load]:
        limits = httpx2.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
        async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT, limits=limits) as client:
            workers = [asyncio.create_task(self._client(client, i)) for i in range(self.clients)]
            try:
                yield self
            finally:
                self.stopping.set()
                await asyncio.gather(*workers)

    async def _client(self, client: httpx2.AsyncClient, turn: int) -> None:
        report = self.tally.report
        while not self.stopping.is_set() and report.sent < self.max_requests:
            request = self.requests[turn % len(self.requests)]
            turn += 1
            report.sent += 1
            self.tally.in_flight += 1
            started = time.monotonic()
            try:
                response = await _send(client, self.base, request)
            except httpx2.TransportError as exc:
                self.tally.failure(request.path, exc)
                await asyncio.sleep(0.1)  # no spinning on a closed port
                continue
            finally:
                self.tally.in_flight -= 1
            self.tally.latencies.append(time.monotonic() - started)
            self.tally.response(request.path, response)


async def recover(base: str, good: Request, since: float, bound: float) -> dict[str, Any]:
    """Seconds from ``since`` to the first /readyz 200 and then the first good answer to ``good``."""
    readyz = graphql = None
    async with httpx2.AsyncClient() as client:
        while graphql is None and (left := bound - (time.monotonic() - since)) > 0:
            timeout = max(min(left, 5.0), 0.1)
            with contextlib.suppress(httpx2.TransportError, ValueError):
                if readyz is None and (await client.get(base + "/readyz", timeout=timeout)).status_code == 200:
                    readyz = time.monotonic() - since
                if readyz is not None and _good(await _send(client, base, good)):
                    graphql = time.monotonic() - since
                    break
            await asyncio.sleep(0.05)
    return {
        "bound_s": bound,
        "readyz_s": _round(readyz),
        "graphql_s": _round(graphql),
        "recovered": graphql is not None,
    }


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 2)


def _percentiles(latencies: list[float]) -> dict[str, float] | None:
    if len(latencies) < 2:
        return None
    cuts = statistics.quantiles(latencies, n=100)
    return {"p50_ms": round(cuts[49] * 1e3, 1), "p99_ms": round(cuts[98] * 1e3, 1)}


# --- the scenarios ------------------------------------------------------------------------------


@dataclass
class Bench:
    """What every scenario shares: the data directory, the plan, the tokens."""

    data_dir: Path
    plan: Plan
    token: str = field(default_factory=lambda: bench_token("internal", "bench/faults.py"))

    @property
    def good(self) -> Request:
        return _graphql(REGIONS, self.token)

    @property
    def mixed(self) -> list[Request]:
        """The load on /graphql and /queries, half each."""
        return [self.good, _saved("FaultRegions", self.token)]

    def service(self, name: str, **env: str) -> Service:
        return Service(self.data_dir, name, env)

    def load(self, base: str, tally: Tally, requests: list[Request] | None = None) -> Load:
        return Load(base, requests or self.mixed, tally, self.plan.clients, self.plan.max_requests)


async def prepare(bench: Bench) -> float:
    """Load the demo data (the first start does it) and save the two queries; seconds spent."""
    started = time.monotonic()
    service = bench.service("prepare")
    if (code := service.start()) is not None:
        raise SystemExit(
            f"liaison serve exited ({code}) at the first start; see {service.peer and service.peer.log_path}"
        )
    try:
        admin = bench_token("admin", "bench/faults.py")
        save = "mutation($d: String!) { savedOperationSave(input: {document: $d}) { userErrors { message } } }"
        async with httpx2.AsyncClient(timeout=60) as client:
            for document in (SAVED_REGIONS, SAVED_STATISTICS):
                body = (await _send(client, service.base, _graphql(save, admin, variables={"d": document}))).json()
                if body.get("errors") or body["data"]["savedOperationSave"]["userErrors"]:
                    raise SystemExit(f"saving a query failed: {body}")
    finally:
        service.stop()
    return time.monotonic() - started


async def frozen(bench: Bench, report: Report, service: Service) -> None:
    tally = Tally(report)
    async with bench.load(service.base, tally).running():
        await asyncio.sleep(bench.plan.warm)
        report.rss_before_mb = rss_mb(service.pid)
        pids = descendants(service.postmaster()[0])
        try:
            for pid in pids:  # nothing answers and nothing refuses: only the service's bounds end a wait
                os.kill(pid, signal.SIGSTOP)
            await asyncio.sleep(bench.plan.freeze)
        finally:
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        report.notes["frozen processes"] = len(pids)
        report.recovery = await recover(service.base, bench.good, time.monotonic(), bench.plan.recovery_bound)
        await asyncio.sleep(1)  # and served again under the same load
    report.rss_after_mb = rss_mb(service.pid)


async def killed(bench: Bench, report: Report, service: Service) -> None:
    tally = Tally(report)
    async with bench.load(service.base, tally).running():
        await asyncio.sleep(bench.plan.warm)
        report.rss_before_mb = rss_mb(service.pid)
        postmaster, socket_dir = service.postmaster()
        os.kill(postmaster, signal.SIGKILL)
        report.recovery = await recover(service.base, bench.good, time.monotonic(), bench.plan.recovery_bound)
    report.rss_after_mb = rss_mb(service.pid)
    report.notes["killed postmaster left a zombie"] = state(postmaster) == "Z"
    with contextlib.suppress(OSError, ValueError, IndexError):  # no postmaster.pid, or half written
        report.notes["postmaster restarted by the service"] = service.postmaster()[0] != postmaster
    if not report.recovery["recovered"]:
        service.stop()
        exits = []
        for _ in range(3):
            if (code := service.start()) is None:
                break
            exits.append(code)
        report.notes["starts of the service tried after the bound"] = len(exits) + (code is None)
        report.notes["exit codes of failed starts"] = exits
        if code is None:
            report.notes["restarted service: first good answer (s)"] = (
                await recover(service.base, bench.good, time.monotonic(), bench.plan.recovery_bound)
            )["graphql_s"]
    service.stop()
    left = report.notes["killed server's socket directory left after the service stopped"] = socket_dir.exists()
    if left:  # seen and reported; now tidied, so that runs do not litter /tmp
        shutil.rmtree(socket_dir, ignore_errors=True)


async def sigterm(bench: Bench, report: Report, service: Service) -> None:
    tally = Tally(report)
    assert service.peer is not None
    locker = await asyncpg.connect(service.dsn())
    try:
        async with bench.load(service.base, tally).running():
            await asyncio.sleep(bench.plan.warm)
            report.rss_before_mb = rss_mb(service.pid)
            transaction = locker.transaction()
            await transaction.start()
            await locker.execute("LOCK TABLE region IN ACCESS EXCLUSIVE MODE")  # requests hang inside PostgreSQL
            await asyncio.sleep(0.5)
            report.notes["in flight at SIGTERM"] = tally.in_flight
            service.peer.process.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(service.peer.process.wait, bench.plan.grace + 15)
            code = service.peer.process.poll()
            report.notes["exit code"] = code
            if code is None:
                report.failures.append(f"still running {bench.plan.grace + 15:g} s after SIGTERM")
            report.notes["seconds to exit after SIGTERM"] = round(time.monotonic() - signalled, 2)
            report.notes["grace (s)"] = bench.plan.grace
            await asyncio.sleep(0.5)
    finally:
        with contextlib.suppress(asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            await locker.close(timeout=2)
    service.stop()
    restarted = time.monotonic()
    if (code := service.start()) is not None:
        report.notes["exit code of the restart"] = code
        report.recovery = {
            "bound_s": bench.plan.recovery_bound,
            "readyz_s": None,
            "graphql_s": None,
            "recovered": False,
        }
        return
    report.recovery = await recover(service.base, bench.good, restarted, bench.plan.recovery_bound + 10)
    report.rss_after_mb = rss_mb(service.pid)


async def saturated(bench: Bench, report: Report, service: Service) -> None:
    tally = Tally(report)
    heavy = _saved("FaultStatistics", bench.token)
    readyz: Counter[str] = Counter()
    polling = asyncio.Event()

    async def poll() -> None:
        async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
            while not polling.is_set():
                try:
                    readyz[str((await client.get(service.base + "/readyz")).status_code)] += 1
                except httpx2.TransportError as exc:
                    readyz[type(exc).__name__] += 1
                await asyncio.sleep(0.25)

    report.rss_before_mb = rss_mb(service.pid)
    n = bench.plan.parallel_runs
    limits = httpx2.Limits(max_connections=n, max_keepalive_connections=n)
    poller = asyncio.create_task(poll())
    seconds = []
    async with httpx2.AsyncClient(timeout=CLIENT_TIMEOUT, limits=limits) as client:

        async def one() -> None:
            report.sent += 1
            try:
                response = await _send(client, service.base, heavy)
            except httpx2.TransportError as exc:
                tally.failure(heavy.path, exc)
                return
            tally.response(heavy.path, response)

        started = time.monotonic()
        await one()  # alone: what one run takes when nothing competes
        report.notes["seconds for one run alone"] = round(time.monotonic() - started, 2)
        for _ in range(bench.plan.rounds):
            started = time.monotonic()
            await asyncio.gather(*(one() for _ in range(n)))
            seconds.append(round(time.monotonic() - started, 2))
    polling.set()
    await poller
    report.notes["pool size"] = bench.plan.pool_size
    report.notes[f"seconds per round of {n} parallel runs"] = seconds
    report.notes["/readyz while saturated"] = dict(readyz)
    report.recovery = await recover(service.base, bench.good, time.monotonic(), bench.plan.recovery_bound)
    report.rss_after_mb = rss_mb(service.pid)


Answer = tuple[int, str | None, bool]
"""Status, code, whether it carried an X-Request-ID."""


async def slow_connection(port: int, body: bool, seconds: float, pace: float) -> tuple[Answer | str, float]:
    """A connection sending a request a byte every ``pace`` seconds: the server's answer (or
    what became of the connection) and how long it was held (``held open``: to the end)."""
    started = time.monotonic()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return "refused", 0.0
    if body:
        payload = json.dumps({"query": REGIONS}).encode().ljust(4096)
        head = f"POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {len(payload)}\r\n\r\n"
        writer.write(head.encode())  # headers at once, then the body byte by byte
        dribble = payload
    else:
        dribble = b"GET /readyz HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: " + b"a" * 100_000
    answer = asyncio.ensure_future(reader.read(65536))
    try:
        for byte in dribble:
            if answer.done() or time.monotonic() - started > seconds:
                break
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except OSError:
                break
            await asyncio.wait({answer}, timeout=pace)
        if not answer.done():
            await asyncio.wait({answer}, timeout=max(0.0, seconds - (time.monotonic() - started)))
        held = time.monotonic() - started
        if not answer.done():
            return "held open", held
        try:
            data = answer.result()
        except OSError:
            return "reset", held
        if not data:
            return "closed without an answer", held
        answered, _, rest = data.partition(b"\r\n\r\n")
        status = int(answered.split(b" ", 2)[1])
        return (status, _code(rest), b"\r\nx-request-id:" in answered.lower()), held
    finally:
        answer.cancel()
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def slow(bench: Bench, report: Report, service: Service) -> None:
    plan = bench.plan
    assert service.peer is not None
    baseline = Tally(Report("baseline", ""))
    baseline.report.sent = 0
    async with bench.load(service.base, baseline, [bench.good]).running():
        await asyncio.sleep(plan.warm)
    report.rss_before_mb = rss_mb(service.pid)
    tally = Tally(report)
    outcomes: list[tuple[str, Answer | str, float]] = []

    async def one(i: int) -> None:
        body = i % 2 == 1
        endpoint = "slow body (/graphql)" if body else "slow headers (/readyz)"
        report.sent += 1
        outcome, held = await slow_connection(service.peer.port, body, plan.slow_seconds, pace=0.5)  # type: ignore[union-attr]
        outcomes.append((endpoint, outcome, held))

    slow_ones = [asyncio.create_task(one(i)) for i in range(plan.slow_clients)]
    await asyncio.sleep(0.5)
    async with bench.load(service.base, tally, [bench.good]).running():
        await asyncio.gather(*slow_ones)
    for endpoint, outcome, _ in outcomes:
        if isinstance(outcome, tuple):
            tally.answer(endpoint, *outcome)
        else:
            tally.count(endpoint, outcome)
    closed = [held for _, outcome, held in outcomes if outcome != "held open"]
    if held_open := len(outcomes) - len(closed):
        report.failures.append(
            f"{held_open} of {len(outcomes)} slow connections still held after {plan.slow_seconds:g} s"
        )
    report.notes["slow connections"] = plan.slow_clients
    report.notes["seconds they dribbled at most"] = plan.slow_seconds
    report.notes["seconds until the server closed a slow one (median)"] = (
        round(statistics.median(closed), 2) if closed else None
    )
    report.notes["normal clients before"] = _percentiles(baseline.latencies)
    report.notes["normal clients during"] = _percentiles(tally.latencies)
    report.recovery = await recover(service.base, bench.good, time.monotonic(), plan.recovery_bound)
    report.rss_after_mb = rss_mb(service.pid)


async def memory(bench: Bench, report: Report, service: Service) -> None:
    try:
        probe = importlib.import_module("bench.memory_probe")
    except ModuleNotFoundError as exc:
        if exc.name != "bench.memory_probe":
            raise
        report.ran = False
        report.why_not = "bench/memory_probe.py is not on this branch: nothing was measured"
        return
    report.rss_before_mb = rss_mb(service.pid)
    found = await asyncio.to_thread(probe.run, service.base, service.pid, bench.plan.probe_count, bench.plan.probe_size)
    if inspect.isawaitable(found):
        found = await found
    report.rss_after_mb = rss_mb(service.pid)
    report.notes["probe"] = found
    report.notes["documents x characters"] = f"{bench.plan.probe_count} x {bench.plan.probe_size}"
    missing = [key for key in ("requests", "answers", "uncoded_5xx") if key not in found]
    if missing:  # never a figure the probe did not give
        report.failures.append(f"the probe's answer lacks {', '.join(missing)}")
        return
    report.sent = int(found["requests"])
    report.answers["/graphql (probe)"] = _probe_answers(found["answers"])
    report.uncoded_5xx = int(found["uncoded_5xx"])
    report.recovery = await recover(service.base, bench.good, time.monotonic(), bench.plan.recovery_bound)
    if report.rss_after_mb is not None and report.rss_after_mb > MEMORY_BOUND_MB:
        report.failures.append(f"RSS {report.rss_after_mb:.0f} MB after the probe, above {MEMORY_BOUND_MB:.0f} MB")


def _probe_answers(answers: dict[str, dict[str, int]]) -> Counter[str]:
    """The probe's ``{status: {code: n}}`` (``-``: no code; status 0: the connection failed,
    by exception) in this script's labels."""
    found: Counter[str] = Counter()
    for status, by_code in answers.items():
        for code, n in by_code.items():
            if status == "0":
                found["refused" if code == "ConnectError" else "timeout" if "Timeout" in code else "reset"] += n
            else:
                found[f"{status} {'uncoded' if code in ('-', None) else code}"] += n
    return found


Scenario = Callable[[Bench, Report, Service], Awaitable[None]]
SCENARIOS: dict[str, tuple[str, Scenario]] = {
    "frozen": ("the database frozen (SIGSTOP, then SIGCONT) under load on /graphql and /queries", frozen),
    "killed": ("the postmaster killed (SIGKILL) under load", killed),
    "sigterm": ("SIGTERM with requests in flight past the grace period, then a new start", sigterm),
    "saturated": ("a small pool and parallel runs of a heavy saved query", saturated),
    "slow": ("slow connections (headers or body a byte at a time) beside normal clients", slow),
    "memory": ("distinct large documents (bench/memory_probe.py)", memory),
}


def _service_env(name: str, plan: Plan) -> dict[str, str]:
    if name == "sigterm":  # only the grace may end the hanging requests
        return {"LIAISON_SHUTDOWN_GRACE": str(plan.grace), "LIAISON_REQUEST_TIMEOUT": "60", "LIAISON_DB_TIMEOUT": "60"}
    if name == "saturated":
        return {"LIAISON_POOL_SIZE": str(plan.pool_size)}
    if name == "memory":  # the service's own budget and cost limit, as an anonymous client meets them
        return {"LIAISON_BUDGET_POINTS": "1000000", "LIAISON_MAX_COST": "20000"}
    return {}


async def run_scenario(bench: Bench, name: str) -> Report:
    title, scenario = SCENARIOS[name]
    report = Report(name, title)
    service = bench.service(name, **_service_env(name, bench.plan))
    if (code := service.start()) is not None:
        report.failures.append(f"the service did not start (exit {code})")
        return report
    started = time.monotonic()
    try:
        await scenario(bench, report, service)
    finally:
        service.stop()
    report.notes["seconds"] = round(time.monotonic() - started, 1)
    report.check()
    return report


# --- output -------------------------------------------------------------------------------------


def _figure(value: float | None, unit: str = "") -> str:
    return "never" if value is None else f"{value:g}{unit}"


def table(report: Report) -> str:
    lines = [f"== {report.name}: {report.title}"]
    if not report.ran:
        return "\n".join([*lines, f"   NOT RUN: {report.why_not}"])
    rows = [("requests sent", str(report.sent))]
    for endpoint, answers in report.answers.items():
        for answer, count in answers.most_common():
            rows.append((f"  {endpoint}", f"{count:>6}  {answer}"))
    rows.append(("uncoded 5xx", str(report.uncoded_5xx) + ("  <- must be 0" if report.uncoded_5xx else "")))
    rows.append(("5xx without X-Request-ID", str(report.no_request_id_5xx)))
    if report.recovery:
        r = report.recovery
        rows.append(("recovery: /readyz 200", _figure(r["readyz_s"], " s") + f" (bound {r['bound_s']:g} s)"))
        rows.append(("recovery: good GraphQL", _figure(r["graphql_s"], " s")))
    rss = (_figure(None if v is None else round(v, 1), " MB") for v in (report.rss_before_mb, report.rss_after_mb))
    rows.append(("RSS before -> after", " -> ".join(rss)))
    rows += [(k, json.dumps(v, ensure_ascii=False)) for k, v in report.notes.items()]
    rows.append(("verdict", "FAIL: " + "; ".join(report.failures) if report.failures else "ok"))
    width = max(len(k) for k, _ in rows)
    return "\n".join([*lines, *(f"   {k:<{width}}  {v}" for k, v in rows)])


async def run(names: list[str], plan: Plan, data_dir: Path) -> tuple[list[Report], float]:
    bench = Bench(data_dir, plan)
    prepared = await prepare(bench)
    print(f"demo data and saved queries ready in {prepared:.1f}s ({data_dir})", flush=True)
    reports = []
    for name in names:
        report = await run_scenario(bench, name)
        print(table(report) + "\n", flush=True)
        reports.append(report)
    return reports, prepared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help=f"any of {', '.join(SCENARIOS)} (default: all, in that order)")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="the smallest forms: fewer clients, shorter faults")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the reports as JSON")
    parser.add_argument("--data-dir", type=Path, help="keep the cluster here and reuse it (default: a temporary one)")
    parser.add_argument("--clients", type=int, help="concurrent normal clients (default 16, quick 4)")
    parser.add_argument("--freeze", type=float, help="seconds the database stays frozen (default 8, quick 5)")
    parser.add_argument("--slow-seconds", type=float, help="how long slow connections dribble (default 20, quick 4)")
    parser.add_argument("--probe-count", type=int, help="documents the memory probe sends (default 2000, quick 50)")
    args = parser.parse_args(argv)
    if unknown := [name for name in args.scenarios if name not in SCENARIOS]:
        parser.error(f"no scenario {', '.join(unknown)}: choose from {', '.join(SCENARIOS)}")
    plan = QUICK if args.quick else FULL
    overrides = {
        "clients": args.clients,
        "freeze": args.freeze,
        "slow_seconds": args.slow_seconds,
        "probe_count": args.probe_count,
    }
    plan = dataclasses.replace(plan, **{k: v for k, v in overrides.items() if v is not None})
    names = list(dict.fromkeys(args.scenarios)) or list(SCENARIOS)
    temporary = None
    if args.data_dir is None:
        temporary = Path(tempfile.mkdtemp(prefix="liaison-faults-"))
        temporary.chmod(0o711)  # the server's own user (when we are root) must pass through
    data_dir = args.data_dir.absolute() if args.data_dir else temporary / "pg"  # type: ignore[operator]
    started = datetime.datetime.now(datetime.UTC)
    try:
        reports, prepared = asyncio.run(run(names, plan, data_dir))
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    failed = [r.name for r in reports if r.failures]
    not_run = [r.name for r in reports if not r.ran]
    print("FAILED: " + ", ".join(failed) if failed else "every scenario that ran passed", end="")
    print(f"; not run: {', '.join(not_run)}" if not_run else "")
    if args.json:
        found = {
            "command": " ".join(["python -m bench.faults", *(argv if argv is not None else sys.argv[1:])]),
            "started": started.isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "system": platform.platform()},
            "plan": dataclasses.asdict(plan),
            "prepare_seconds": round(prepared, 1),
            "scenarios": [r.as_json() for r in reports],
            "failed": failed,
            "not_run": not_run,
        }
        args.json.write_text(json.dumps(found, ensure_ascii=False, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
