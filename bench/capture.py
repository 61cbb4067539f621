"""What SQL each peer sends per request, and the statements the replays send (bench/replay.py).

Two sources, either of which may be missing:

- ``resolvers.compiler.statement(graphql_schema, query, operation_name, variables, viewer)``
  when the service has it: our compiled path's one statement and its arguments, exactly.
- The server log: ``log_statement = 'all'`` for the duration (``ALTER SYSTEM`` and
  ``pg_reload_conf()``, reset after), a marker statement before each request, and the
  entries between markers, by application name. Parameters come from the log's
  ``DETAIL: Parameters:`` lines as text; for replay each ``$n`` becomes ``$n::text::<type>``
  with the type PostgreSQL infers for it, so the text goes in unchanged.

The log also gives statements per request for every peer (pg_stat_statements is not in the
embedded server's wheel).
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from .replay import Statement

__all__ = ["LogEntry", "ServerLog", "compiled_statement", "for_replay", "is_data", "reads_data"]

log = logging.getLogger("bench")

MARKER_APP = "bench-marker"
PREFIX = "%m [%p] %a| "
_LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] (.*?)\| ([A-Z0-9]+):  (.*)$")
_EXECUTE = re.compile(r"^execute ([^:]*): (.*)$", re.S)
_PARAM = re.compile(r"\$(\d+) = (?:NULL|'((?:[^']|'')*)')", re.S)
_MARK = re.compile(r"^SELECT 'bench-mark:(.*)'$")
_PLACEHOLDER = re.compile(r"\$(\d+)(?!\d)")
_WRITES = ("insert", "update", "delete")


@dataclass
class LogEntry:
    pid: int
    app: str
    protocol: str
    """"simple" (a "statement:" entry) or "extended" (an "execute" entry)."""
    sql: str
    params: list[str | None] = field(default_factory=list)


def is_data(entry: LogEntry) -> bool:
    """Whether a logged statement reads data (``reads_data``)."""
    return reads_data(entry.sql)


def reads_data(sql: str) -> bool:
    """A statement that reads data (not BEGIN, SET, a pool's reset, the key's touch, or
    PostGraphile's ``set_config`` of the JWT's claims)."""
    head = sql.lstrip().lower()
    return head.startswith(("select", "with")) and not head.startswith(
        ("select pg_advisory_unlock_all", "select set_config")
    )


def parse_log(text: str) -> list[LogEntry]:
    """Statements of a stderr log written with ``PREFIX``; a message's own newlines come as
    a newline and a tab, and its parameters in a ``DETAIL`` line of the same process."""
    raw: list[tuple[int, str, list[str], list[str]]] = []  # pid, app, message lines, parameter lines
    last: dict[int, list[str]] = {}
    current: list[str] | None = None
    params: list[str]
    for line in text.split("\n"):
        if line.startswith("\t") and current is not None:
            current.append(line[1:])
            continue
        current = None
        m = _LINE.match(line)
        if m is None:
            continue
        pid, app, level, message = int(m[1]), m[2], m[3], m[4]
        if level == "LOG" and (message.startswith("statement: ") or _EXECUTE.match(message)):
            current, params = [message], []
            raw.append((pid, app, current, params))
            last[pid] = params
        elif level == "DETAIL" and message.startswith("Parameters: ") and pid in last:
            current = last.pop(pid)
            current.append(message)
    return [_entry(pid, app, "\n".join(lines), "\n".join(params)) for pid, app, lines, params in raw]


def _entry(pid: int, app: str, message: str, params: str) -> LogEntry:
    if message.startswith("statement: "):
        return LogEntry(pid, app, "simple", message[len("statement: ") :])
    values = {int(m[1]): None if m[2] is None else m[2].replace("''", "'") for m in _PARAM.finditer(params)}
    return LogEntry(pid, app, "extended", _EXECUTE.match(message)[2], [values[n] for n in sorted(values)])  # type: ignore[index]


class ServerLog:
    """``log_statement = 'all'`` while open; ``windows()`` splits what was logged at the markers."""

    def __init__(self, dsn: str, path: Path) -> None:
        self.dsn, self.path = dsn, path
        self._conn: asyncpg.Connection | None = None
        self._offset = 0

    async def __aenter__(self) -> ServerLog:
        self._conn = await asyncpg.connect(self.dsn, server_settings={"application_name": MARKER_APP})
        try:
            await self._conn.execute("ALTER SYSTEM SET log_statement = 'all'")
            await self._conn.execute(f"ALTER SYSTEM SET log_line_prefix = '{PREFIX}'")
            await self._conn.execute("ALTER SYSTEM SET log_parameter_max_length = -1")
            await self._conn.execute("SELECT pg_reload_conf()")
            await asyncio.sleep(0.5)  # every backend takes the new settings before its next command
            self._offset = self.path.stat().st_size
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._conn is not None
        try:
            for name in ("log_statement", "log_line_prefix", "log_parameter_max_length"):
                await self._conn.execute(f"ALTER SYSTEM RESET {name}")
            await self._conn.execute("SELECT pg_reload_conf()")
        finally:
            await self._conn.close()

    async def mark(self, label: str) -> None:
        assert self._conn is not None and "'" not in label
        await self._conn.execute(f"SELECT 'bench-mark:{label}'")

    def windows(self) -> dict[str, list[LogEntry]]:
        """Entries after each marker (other than the markers' own), by the marker's label."""
        with self.path.open("rb") as f:
            f.seek(self._offset)
            text = f.read().decode(errors="replace")
        found: dict[str, list[LogEntry]] = {}
        label = None
        for entry in parse_log(text):
            if entry.app == MARKER_APP:
                m = _MARK.match(entry.sql.strip())
                if m:
                    label = m[1]
                    found[label] = []
                continue
            if label is not None:
                found[label].append(entry)
        return found


async def for_replay(dsn: str, entries: list[LogEntry]) -> tuple[Statement, ...]:
    """The logged statements as a replay sends them (writes left out: the key's touch)."""
    conn = await asyncpg.connect(dsn)
    try:
        found = []
        for e in entries:
            if e.sql.lstrip().lower().startswith(_WRITES):
                continue
            if e.protocol == "simple" or not e.params:
                found.append(Statement("simple" if e.protocol == "simple" else "extended", e.sql))
                continue
            found.append(Statement("extended", await _text_params(conn, e.sql), tuple(e.params)))
        return tuple(found)
    finally:
        await conn.close()


async def _text_params(conn: asyncpg.Connection, sql: str) -> str:
    """``sql`` with each ``$n`` taking text and casting it to the type PostgreSQL infers."""
    prepared = await conn.prepare(sql)
    oids = [t.oid for t in prepared.get_parameters()]
    types = await conn.fetchval(
        "SELECT array_agg(format_type(o, NULL) ORDER BY n) FROM unnest($1::oid[]) WITH ORDINALITY AS t(o, n)", oids
    )
    return _PLACEHOLDER.sub(lambda m: f"(${m[1]}::text::{types[int(m[1]) - 1]})", sql)


def compiled_statement(document: str, operation: str | None, variables: dict[str, Any]) -> Statement | None:
    """The statement the compiled path sends for a query, as the service makes it for the
    internal role (``schema.compiled.statement_for``: planned, rendered and bound), or None
    when the query is not compiled. With a version check (kept statistics), the statement
    that computes the answer: what a request pays when nothing is kept."""
    from graphql import get_operation_ast, parse
    from graphql.execution.values import get_variable_values

    from db.access import Role, Viewer
    from resolvers.compiler import Compiler, NotCompiled
    from resolvers.private_apis import graphql_schema
    from schema import schema
    from schema.caches import DocumentCaches
    from schema.compiled import statement_for

    parsed = parse(document)
    definition = get_operation_ast(parsed, operation)
    if definition is None:
        return None
    coerced = get_variable_values(graphql_schema(schema), definition.variable_definitions or (), variables)
    if isinstance(coerced, list):
        return None
    try:
        found = statement_for(
            DocumentCaches(),
            Compiler(schema),
            document,
            operation,
            parsed,
            definition,
            coerced,
            Viewer(Role.INTERNAL),
            100,
        )
    except NotCompiled as reason:
        log.warning("%s is not compiled: %s", operation, reason.reason)
        return None
    if found is None:
        return None
    sql, args = found.sql, found.values
    return Statement("extended", sql, tuple(args))
