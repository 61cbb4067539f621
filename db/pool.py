"""The database as requests see it: an asyncpg pool whose every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg

from .errors import UNAVAILABLE_ERRORS, DatabaseUnavailable, PoolSaturated, translate_errors

__all__ = ["Database", "Executor", "open_database", "pool_size_for"]

REMOTE_POOL_SIZE = 10
"""Connections a process keeps to a PostgreSQL on another machine, whose cores are unknown."""

_RELEASE_AT_LEAST = 0.25
"""Seconds a release may take even past the deadline: resetting a healthy connection."""


SHARED_AT_MOST = 8
"""Requests one shared execution answers at most (``fetch_shared``). A larger group holds its
connection longer while the others may be idle; 8 at once already cost PostgreSQL 66 µs of
backend CPU a request on Q3, against 77 for 4 and 146 alone (``bench/RESULTS.md``)."""


@dataclass
class _Group:
    """Requests of one statement waiting for a turn together, and the task that runs them
    (cancelled when every member has given up)."""

    members: list[tuple[Sequence[Any], asyncio.Future[Any]]] = field(default_factory=list)
    runner: asyncio.Task[None] | None = None

    def abandoned(self) -> bool:
        return all(answer.done() for _, answer in self.members)


class Executor(Protocol):
    """What the query functions of ``db`` need: a ``Database`` or an asyncpg connection."""

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]: ...


class Database:
    """A pool plus the bound (seconds) that acquiring, connecting and querying obey.

    When PostgreSQL is away every call fails within ``timeout`` with
    ``DatabaseUnavailable``; when it is back, the pool reconnects on demand. A turn at one
    of the pool's connections is waited for apart from connecting: a semaphore sized to the
    pool is taken before ``pool.acquire``, so a turn that does not come within ``timeout``
    means every connection is busy (``PoolSaturated``, SERVICE_OVERLOADED; unless the
    database's own fault kept them busy, see ``_turn``), while a turn that comes finds a
    free holder at once, and a timeout after it is the database's.

    While statements keep coming, a statement's connection is kept for the next one rather
    than released to the pool and acquired again: asyncpg's acquire and release cost a short
    statement about half as much CPU again as running it (``SELECT 1`` at 16 at once: 61 µs
    a statement against 42 kept; ``bench/RESULTS.md``, "Connections kept between statements").
    Every turn takes a kept
    connection before asking the pool, so a turn still finds one at once: a connection is
    kept only by a turn about to end, and the pool's connections out are those of turns held
    plus those kept, never more than its size.
    """

    def __init__(
        self, pool: asyncpg.Pool, timeout: float, connect: Callable[[], Awaitable[asyncpg.Connection]]
    ) -> None:
        self.pool = pool
        self.timeout = timeout
        self.statements = 0
        """Statements sent since start: what tests and metrics read to see batching work."""
        self.waiting = 0
        """Callers waiting for a turn at a pool connection now (metrics); a group of requests
        that will share one (``fetch_shared``) counts once."""
        self.in_use = 0
        """Turns held now: connections in use or being acquired (metrics)."""
        self._turns = asyncio.Semaphore(pool.get_max_size())
        self._holders: dict[object, float] = {}
        """When the bound of the statement each turn now runs (``_fetch_in_turn``) runs out."""
        self._faulted_at = float("-inf")
        """When a statement last failed with ``DatabaseUnavailable``."""
        self._connect = connect
        self._probing = asyncio.Lock()
        self._kept: list[asyncpg.Connection] = []
        """Connections acquired from the pool and kept between statements (``_settle``)."""
        self._groups: dict[str, _Group] = {}
        """Requests of one statement waiting to share a turn (``fetch_shared``), by statement."""
        self.sharing = 0
        """Requests waiting in a group for their shared execution (``fetch_shared``)."""

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[object]:
        """A turn at one of the pool's connections (``_wait_turn`` when none is free); its token
        keys the bound ``_fetch_in_turn`` records for each statement run in it."""
        loop = asyncio.get_running_loop()
        if self._turns.locked():
            await self._wait_turn()
        else:  # a turn is free: taken at once, without a timer to set and cancel
            await self._turns.acquire()
        self.in_use += 1
        turn = object()
        try:
            yield turn
        except DatabaseUnavailable as fault:
            if not isinstance(fault, PoolSaturated):  # a turn nested in this one, not the database
                self._faulted_at = loop.time()
            raise
        finally:
            self._holders.pop(turn, None)
            self.in_use -= 1
            self._turns.release()

    async def _wait_turn(self) -> None:
        """The next turn, or after ``timeout``: ``PoolSaturated``, unless the database's own
        fault kept the turns, which the wait then reports.

        Its fault when a holder's statement has run out its bound and still holds, or when
        one failed during the wait (it releases after failing). A shared execution's bound
        is its members' together, so a long one within it is load, not a fault."""
        loop = asyncio.get_running_loop()
        waited_from = loop.time()
        self.waiting += 1
        try:
            async with asyncio.timeout(self.timeout):
                await self._turns.acquire()
        except TimeoutError as exc:
            stuck = any(until <= loop.time() for until in self._holders.values())
            if stuck or self._faulted_at >= waited_from:
                raise DatabaseUnavailable() from exc
            raise PoolSaturated() from exc
        finally:
            self.waiting -= 1

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self._turn() as turn:
            return await self._fetch_in_turn(turn, query, args)

    async def _fetch_in_turn(
        self, turn: object, query: str, args: Sequence[Any], requests: int = 1
    ) -> list[asyncpg.Record]:
        """``query`` on the ``turn`` held, within ``timeout`` for each of the ``requests`` it answers."""
        # One deadline for acquire, query and release, from the turn on. Not asyncio.timeout
        # around pool.fetch: a cancelled query's release would then wait unbounded for the
        # connection's reset; asyncpg terminates a connection whose release times out.
        loop = asyncio.get_running_loop()
        deadline = self._holders[turn] = loop.time() + self.timeout * requests
        self.statements += 1
        with translate_errors():
            conn = await self._take()
            try:
                rows = await conn.fetch(query, *args, timeout=max(deadline - loop.time(), 0.01))
            except BaseException as exc:
                if isinstance(exc, UNAVAILABLE_ERRORS):
                    conn.terminate()  # its state is unknown now: never hand it out again
                await self._settle(conn, deadline, keep=False)
                raise
            await self._settle(conn, deadline, keep=True)
            return rows

    async def fetch_shared(self, query: str, shared: str, args: Sequence[Any]) -> Any:
        """The first value of ``query``'s one row, for ``args``. When every connection is busy,
        requests of the same statement that wait for one share its next turn: ``shared``
        (``db.sql.shared_form``) runs once for up to ``SHARED_AT_MOST`` of them, each
        answered as if alone (a value the database refuses is run again alone). The group's
        runner waits for the turn, and counts once in ``waiting``; its wait is the group's,
        from its first request, so a request that joins late may be told SERVICE_OVERLOADED
        sooner than alone. The shared run is bounded by its members' time together, and the
        server's ``statement_timeout`` (the request's own bound) by then has ended every
        member's request anyway."""
        group = self._groups.get(query)
        if group is None:
            if not self._turns.locked():  # a turn is free: run at once, as alone
                return (await self.fetch(query, *args))[0][0]
            group = self._groups[query] = _Group()
            group.runner = asyncio.create_task(self._run_group(query, shared, group))
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        group.members.append((args, answer))
        if len(group.members) >= SHARED_AT_MOST:
            del self._groups[query]  # full: the next request starts another group
        self.sharing += 1
        try:
            return await answer  # a request cancelled here leaves the group; the others go on
        finally:
            self.sharing -= 1
            if answer.cancelled() and group.abandoned() and group.runner is not None:  # nobody left to answer
                self._close_group(query, group)
                group.runner.cancel()

    async def _run_group(self, query: str, shared: str, group: _Group) -> None:
        """Run a group at its turn; every member's future gets its answer or the fault, and
        the group is closed whatever happens (a failed wait for the turn included)."""
        try:
            async with self._turn() as turn:
                self._close_group(query, group)
                members = [(args, answer) for args, answer in group.members if not answer.done()]
                if len(members) > 1:
                    await self._answer_together(turn, shared, members)
                await self._answer_alone(turn, query, members)  # one member, or any the shared run left
        except BaseException as exc:
            for _, answer in group.members:
                if not answer.done():
                    answer.set_exception(exc if isinstance(exc, Exception) else DatabaseUnavailable())
            if not isinstance(exc, Exception):
                raise
        finally:
            self._close_group(query, group)

    def _close_group(self, query: str, group: _Group) -> None:
        """From now on, a request of ``query`` starts another group."""
        if self._groups.get(query) is group:
            del self._groups[query]

    async def _answer_together(self, turn: object, shared: str, members: list[tuple[Sequence[Any], Any]]) -> None:
        """``shared`` over the members' values, in the turn held; a fault of the database
        reaches them all, any other error leaves them to be run alone, each getting its own.
        It does the work of them all, so it gets the time they would have had each."""
        arrays = [list(values) for values in zip(*(args for args, _ in members), strict=True)]
        try:
            rows = await self._fetch_in_turn(turn, shared, arrays, len(members))
        except DatabaseUnavailable:
            raise
        except Exception:
            return
        for index, value in rows:
            answer = members[index - 1][1]
            if not answer.done():
                answer.set_result(value)

    async def _answer_alone(self, turn: object, query: str, members: list[tuple[Sequence[Any], Any]]) -> None:
        """Each member not answered yet, by ``query`` alone, in the turn held."""
        for args, answer in members:
            if answer.done():
                continue
            try:
                value = (await self._fetch_in_turn(turn, query, args))[0][0]
            except DatabaseUnavailable:
                raise
            except Exception as own:
                if not answer.done():
                    answer.set_exception(own)
            else:
                if not answer.done():
                    answer.set_result(value)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """One connection for statements that must share a transaction; acquiring is bounded."""
        async with self._turn():
            deadline = asyncio.get_running_loop().time() + self.timeout
            with translate_errors():
                conn = await self._take()
                try:
                    self.statements += 1
                    yield conn
                finally:
                    await self._settle(conn, deadline, keep=False)

    async def _take(self) -> asyncpg.Connection:
        """A connection for the turn just taken: a kept one, else the pool's (a free holder)."""
        while self._kept:
            conn = self._kept.pop()
            try:
                if not conn.is_closed():
                    return conn
            except asyncpg.InterfaceError:  # dropped while kept: asyncpg freed its holder then
                continue
            await self.pool.release(conn)  # closed without that: its holder reconnects when next acquired
        return await self.pool.acquire(timeout=self.timeout)

    async def _settle(self, conn: asyncpg.Connection, deadline: float, *, keep: bool) -> None:
        """At the end of a turn: keep its connection when ``keep`` and other statements are
        running or waiting (the next takes it as it is), else release it, with every kept
        one when this turn is the last: an idle service holds no connection outside the
        pool, whose idle timeout, query count and resets then apply to them again."""
        if keep and (self.in_use > 1 or self.waiting) and not conn.is_in_transaction():
            self._kept.append(conn)
            return
        try:
            await self._release(conn, deadline)
        except BaseException:  # cancelled or failed: asyncpg's release goes on shielded, so do the kept
            with contextlib.suppress(Exception):  # the fault or cancellation in hand is the one to report
                await self._release_idle(deadline)
            raise
        await self._release_idle(deadline)

    async def _release(self, conn: asyncpg.Connection, deadline: float) -> None:
        timeout = max(deadline - asyncio.get_running_loop().time(), _RELEASE_AT_LEAST)
        await self.pool.release(conn, timeout=timeout)

    async def _release_idle(self, deadline: float) -> None:
        """Every kept connection, when the turn ending is the last one."""
        if self.in_use == 1 and not self.waiting:
            await self._release_kept(deadline)

    async def _release_kept(self, deadline: float) -> None:
        while self._kept:
            await self._release(self._kept.pop(), deadline)

    async def ping(self) -> None:
        """Raise ``DatabaseUnavailable`` unless the database answers in time.

        On a connection of its own, outside the pool: a pool busy with slow work is load,
        not a database that is down, and a health check must not queue behind it. A new one
        each time: a backend whose postmaster was killed can still answer on a connection
        it already had, while the server takes no new ones."""
        with translate_errors():
            async with asyncio.timeout(self.timeout), self._probing:
                probe = await self._connect()
                try:
                    await probe.fetchval("SELECT 1")
                finally:
                    probe.terminate()

    @property
    def size(self) -> int:
        """Connections the pool may hold."""
        return self.pool.get_max_size()

    async def close(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await self._release_kept(asyncio.get_running_loop().time() + self.timeout)
                await self.pool.close()
        except TimeoutError:
            self.pool.terminate()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's reset round trip (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL).

    Measured as one extra round trip per statement on the machines this was built on. The
    service never changes session state: settings come at connect, advisory locks are
    transaction-scoped, no LISTEN, no cursors; an open transaction is still rolled back
    by asyncpg before this runs.
    """


def pool_size_for(dsn: str, workers: int, cores: int | None = None) -> int:
    """Connections each of ``workers`` processes keeps to the PostgreSQL at ``dsn``.

    A PostgreSQL on this machine (the embedded one, a Unix socket, localhost) shares our
    cores: backends beyond them queue in the kernel's scheduler with our event loops, and
    stretch the tail (on 2 cores and 2 workers, a pool of 10 each gave a list query a p99 of
    73 ms where 3 each gave 19; ``bench/RESULTS.md``). So the processes share the PostgreSQL
    wiki's rule of thumb, twice the cores plus one, at most ``REMOTE_POOL_SIZE`` each and at
    least 3, so that an import holding one connection leaves requests two. A server
    elsewhere gets ``REMOTE_POOL_SIZE``. ``cores`` counts the CPUs this process may use
    (its affinity), not a container's CPU quota.
    """
    if not _is_local(dsn):
        return REMOTE_POOL_SIZE
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(3, min(REMOTE_POOL_SIZE, math.ceil((2 * cores + 1) / workers)))


def _is_local(dsn: str) -> bool:
    """Whether every server ``dsn`` names is on this machine, read as asyncpg reads it: the
    URL's hosts, else its ``host`` parameter, else ``PGHOST``, else the default Unix socket."""
    parts = urlsplit(dsn)
    hosts = [_host_of(entry) for entry in parts.netloc.rpartition("@")[2].split(",") if entry]
    if not hosts:
        named = parse_qs(parts.query).get("host") or [os.environ.get("PGHOST", "")]
        hosts = [host.strip() for value in named for host in value.split(",")]
    return all(_is_local_host(host) for host in hosts)


def _host_of(entry: str) -> str:
    """The host of one ``host:port`` of a URL: ``[::1]:5432`` is ``::1``, ``%2Ftmp`` is ``/tmp``."""
    if entry.startswith("["):
        return entry[1 : entry.find("]")]
    return unquote(entry.partition(":")[0])


def _is_local_host(host: str) -> bool:
    if host.lower() in ("", "localhost") or host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def open_database(dsn: str, *, max_size: int, timeout: float, statement_timeout: float | None = None) -> Database:
    """``min_size=0``: the pool starts, and health checks answer, while PostgreSQL is away.

    ``statement_timeout`` (seconds) makes PostgreSQL itself cancel a statement that outlives
    the request it serves, even if the client side never gets to cancel it.
    """
    # jit off: a compiled operation's statement is large enough for the planner to JIT it,
    # which cost 0.6 s of compilation for a 16 ms dashboard query here; OLTP never gains.
    settings = {
        "application_name": "liaison-graph",
        "timezone": "UTC",
        "jit": "off",
        "plan_cache_mode": "force_generic_plan",
    }
    if statement_timeout is not None:
        settings["statement_timeout"] = str(int(statement_timeout * 1000))
    with translate_errors():
        pool = await asyncpg.create_pool(
            dsn,
            min_size=0,
            max_size=max_size,
            timeout=timeout,  # connecting
            max_inactive_connection_lifetime=60,
            server_settings=settings,
            reset=_keep_session,
        )
    return Database(pool, timeout, functools.partial(asyncpg.connect, dsn, timeout=timeout, server_settings=settings))
