"""A whole operation as one SQL statement whose single value is the response's ``data`` JSON.

The plan is plain data (``Root`` and the field kinds below), made by the operation compiler
from a validated document and the one mapping of ``db.model``; this module renders it.
Objects are ``row_to_json`` over a subselect whose columns carry the response keys (so the
output is compact and keeps the selection's order), lists ``array_to_json(array_agg(...))``,
to-one relations and pages correlated subqueries over the same indexes the loaders use.
Every value from the request is a ``$n`` parameter; the only request text in the SQL are
response keys, GraphQL names that are checked against the grammar once more before they
are quoted as column aliases. Row access and masks are ``db.access``'s, as on the
generic path, so both paths read exactly what the viewer may see.

Output conventions, shared with the generic path (and tested byte for byte against it):
timestamps as Python's ``isoformat`` in UTC, decimals as text, floats as orjson writes
them (``json_float``, migration 0010), global IDs as standard base64 of ``Type:key``,
cursors as unpadded base64url of compact JSON. Case statistics and return flows are read
from the summary tables, as the generic path reads them (``db.stats``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .access import Viewer, column_sql, row_predicates
from .model import Table
from .pool import Executor
from .sql import Order, Page, Params, Predicate, all_of
from .stats import CASE_FIGURES, RETURN_FLOWS, TALLY, Breakdown, Tally, case_figures, return_flows_of

__all__ = [
    "Connection",
    "Constant",
    "Counted",
    "GlobalId",
    "InSet",
    "Link",
    "Nested",
    "Root",
    "Rows",
    "Scalar",
    "Scoped",
    "Sequence",
    "Summary",
    "fetch_data",
    "render",
]

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*\Z")


def _key(name: str) -> str:
    if not _NAME.match(name):  # the GraphQL grammar allows nothing else; never trust it twice
        raise ValueError(f"not a GraphQL name: {name!r}")
    return f'"{name}"'


@dataclass(frozen=True)
class Scalar:
    """A column as GraphQL serializes it: ``form`` is plain, datetime, decimal, float or enum."""

    key: str
    column: str
    form: str = "plain"
    names: tuple[tuple[Any, str], ...] = ()
    """For an enum: (stored value, GraphQL name) pairs."""


@dataclass(frozen=True)
class Constant:
    """A fixed text, such as ``__typename``."""

    key: str
    value: str


@dataclass(frozen=True)
class GlobalId:
    """Relay's ``id``: base64 of ``Type:key``, as ``strawberry.relay`` encodes it."""

    key: str
    type_name: str
    column: str


@dataclass(frozen=True)
class InSet:
    """True when ``column`` holds one of ``values``."""

    key: str
    column: str
    values: tuple[str, ...]
    cast: str = "text[]"


@dataclass(frozen=True)
class Link:
    """How rows of a relation are found from the row around them.

    ``t.column = parent.attr``; or ``t.column = value`` (a root lookup); or, with ``via``
    (table, its column, parent attr, its attr to match), through one row of another table.
    """

    column: str
    attr: str | None = None
    value: Any = None
    cast: str | None = None
    via: tuple[Table, str, str, str] | None = None


@dataclass(frozen=True)
class Rows:
    """A related object (``many`` False: the first row, or null) or list of objects."""

    key: str
    table: Table
    link: Link | None
    selection: tuple[Any, ...]
    many: bool = False
    order: str | None = None
    """SQL order over ``t``; the table's default when None."""


@dataclass(frozen=True)
class Sequence:
    """A list of to-one lookups in the order asked (``nodes``): null where none is found."""

    key: str
    items: tuple[Rows | None, ...]


@dataclass(frozen=True)
class Connection:
    """A Relay page. ``parts`` are (key, what): what is ``edges``, ``nodes``, ``totalCount``,
    a ``Constant``, or pageInfo's own (key, field name or ``Constant``) pairs."""

    key: str
    table: Table
    link: Link | None
    where: tuple[Predicate, ...]
    order: Order
    order_name: str
    page: Page
    parts: tuple[tuple[str, Any], ...]
    node_selection: tuple[Any, ...] = ()
    edge_selection: tuple[tuple[str, Any], ...] = ()
    """(key, ``cursor``, ``node`` or a ``Constant``) of each edge."""


@dataclass(frozen=True)
class Scoped:
    """Statistics of a scope (``network``, ``region``, ``district``): an object whose tallies
    count over the rows of the scope keyed by the parent's ``attr`` (none for the network)."""

    key: str
    scope: str
    attr: str | None
    selection: tuple[Any, ...]


@dataclass(frozen=True)
class Nested:
    """An object of figures over the enclosing scope, with no row of its own."""

    key: str
    selection: tuple[Any, ...]


@dataclass(frozen=True)
class Counted:
    """A tally of the enclosing scope: a number, or (``selection``) its groups as objects; or
    a breakdown of the enclosing case figures (``by_status`` ...) as objects."""

    key: str
    tally: Tally | Breakdown
    selection: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Summary:
    """Figures of the enclosing scope over [start, before), read from the summary tables:
    ``figures`` is ``CASE_FIGURES`` (an object) or ``RETURN_FLOWS`` (a list of objects)."""

    key: str
    figures: Table
    start: Any
    before: Any
    selection: tuple[Any, ...]


@dataclass(frozen=True)
class Root:
    selection: tuple[Any, ...]
    typename: str = "Query"


@dataclass
class _Renderer:
    viewer: Viewer
    params: Params = field(default_factory=Params)
    aliases: int = 0
    scope: tuple[str, str | None] = ("network", None)
    """The statistics scope being rendered and the SQL of its key."""

    def alias(self) -> str:
        self.aliases += 1
        return f"k{self.aliases}"

    # -- objects and their fields, over the row alias ``t`` of ``table``

    def object(self, table: Table | None, selection: tuple[Any, ...]) -> str:
        columns = ", ".join(f"{self.field(table, f)} AS {_key(f.key)}" for f in selection)
        return f"(SELECT row_to_json(_) FROM (SELECT {columns}) _)"

    def field(self, table: Table | None, f: Any) -> str:
        if isinstance(f, Constant):
            return self.params.add(f.value, "text")
        if isinstance(f, Scalar):
            assert table is not None
            return self.scalar(table, f)
        if isinstance(f, GlobalId):
            value = f"{self.params.add(f.type_name + ':', 'text')} || t.{f.column}::text"
            return f"translate(encode(convert_to({value}, 'UTF8'), 'base64'), E'\\n', '')"
        if isinstance(f, InSet):
            return f"t.{f.column} = ANY({self.params.add(list(f.values), f.cast)})"
        if isinstance(f, Rows):
            return self.rows(f)
        if isinstance(f, Sequence):
            items = ", ".join("NULL::json" if item is None else self.rows(item) for item in f.items)
            return f"array_to_json(ARRAY[{items}]::json[])"
        if isinstance(f, Connection):
            return self.connection(f)
        if isinstance(f, Scoped):
            return self.scoped(f)
        if isinstance(f, Nested):
            return self.object(None, f.selection)
        if isinstance(f, Counted):
            return self.counted(f)
        if isinstance(f, Summary):
            return self.summary(f)
        raise TypeError(f"no SQL for {f!r}")

    def scoped(self, f: Scoped) -> str:
        outer = self.scope
        if f.attr is None:
            self.scope = (f.scope, None)
            try:
                return self.object(None, f.selection)
            finally:
                self.scope = outer
        k = self.alias()
        self.scope = (f.scope, f"{k}.key")
        try:
            columns = ", ".join(f"{self.field(None, c)} AS {_key(c.key)}" for c in f.selection)
        finally:
            self.scope = outer
        return f"(SELECT row_to_json(_) FROM (SELECT {columns} FROM (SELECT t.{f.attr} AS key) {k}) _)"

    def counted(self, f: Counted) -> str:
        tally = f.tally
        if isinstance(tally, Breakdown):
            assert f.selection is not None
            aggregate = f"array_agg({self.object(TALLY, f.selection)} ORDER BY t.o)"
            return f"(SELECT coalesce(array_to_json({aggregate}), '[]') FROM ({tally.rows()}) t)"
        source = tally.source(*self.scope, self.params)
        if f.selection is None:
            return f"(SELECT {tally.measure} {source})"
        groups = ", ".join(f"{sql} AS {column}" for column, sql in tally.by)
        rows = f"SELECT {groups}, {tally.measure} AS count {source} GROUP BY {', '.join(sql for _, sql in tally.by)}"
        inner = (
            f"SELECT {self.object(TALLY, f.selection)} AS j, row_number() OVER (ORDER BY {tally.order}) AS o"
            f" FROM ({rows}) t"
        )
        return f"(SELECT coalesce(array_to_json(array_agg(s.j ORDER BY s.o)), '[]') FROM ({inner}) s)"

    def summary(self, f: Summary) -> str:
        scope, key = self.scope
        if f.figures is CASE_FIGURES:
            median = any(isinstance(c, Scalar) and c.column == "median_days_to_close" for c in f.selection)
            figures = case_figures(scope, key, f.start, f.before, self.params, median)
            return f"(SELECT {self.object(CASE_FIGURES, f.selection)} FROM ({figures}) t)"
        assert f.figures is RETURN_FLOWS
        flows = return_flows_of(scope, key, f.start, f.before, self.params)
        aggregate = f"array_agg({self.object(RETURN_FLOWS, f.selection)} ORDER BY {RETURN_FLOWS.order})"
        return f"(SELECT coalesce(array_to_json({aggregate}), '[]') FROM ({flows}) t)"

    def scalar(self, table: Table, f: Scalar) -> str:
        value = column_sql(table, f.column, self.viewer, self.params)
        if f.form == "datetime":
            return isoformat(value)
        if f.form == "decimal":
            return f"({value})::text"
        if f.form == "float":
            return f"json_float({value})"
        if f.form == "enum":
            cases = " ".join(
                f"WHEN {value} = {self.params.add(stored, _cast(stored))} THEN {self.params.add(name, 'text')}"
                for stored, name in f.names
            )
            # A stored value the enum does not know fails the statement, as it fails the generic
            # path (which then answers with its internal error), instead of passing as null.
            unknown = f"(({value})::text || ' is no value of the enum')::int::text"
            return f"(CASE WHEN {value} IS NULL THEN NULL {cases} ELSE {unknown} END)"
        return value

    # -- relations

    def source(self, table: Table, link: Link | None) -> tuple[str, str]:
        """The FROM items giving ``link``'s parent key as ``kN.key``, and the WHERE over ``t``:
        the link and the viewer's row access."""
        conditions = []
        prefix = ""
        if link is not None:
            if link.via is not None:
                hop, hop_column, parent_attr, pick = link.via
                if row_predicates(hop, self.viewer):
                    raise ValueError(f"{hop.name} has row access rules: not a table to pass through")
                k = self.alias()
                if hop_column not in hop.unique:
                    raise ValueError(f"{hop.name}.{hop_column} names more than one row: not a key to pass through")
                prefix = (
                    f"(SELECT h.{pick} AS key FROM {hop.sql_name} h WHERE h.{hop_column} = t.{parent_attr}) {k}"
                    " CROSS JOIN LATERAL "
                )
                conditions.append(f"t.{link.column} = {k}.key")
            elif link.attr is not None:
                k = self.alias()
                prefix = f"(SELECT t.{link.attr} AS key) {k} CROSS JOIN LATERAL "
                conditions.append(f"t.{link.column} = {k}.key")
            else:
                conditions.append(f"t.{link.column} = {self.params.add(link.value, link.cast)}")
        conditions.append(all_of(row_predicates(table, self.viewer), self.params))
        return prefix, " AND ".join(conditions)

    def rows(self, f: Rows) -> str:
        order = f.order or f.table.order
        prefix, where = self.source(f.table, f.link)
        if not f.many:
            # The loaders take the first row in the table's order; a unique key has one row.
            ordered = "" if f.link is not None and f.link.column in f.table.unique else f" ORDER BY {order}"
            inner = f"SELECT * FROM {f.table.sql_name} t WHERE {where}{ordered} LIMIT 1"
            return f"(SELECT {self.object(f.table, f.selection)} FROM {prefix}({inner}) t)"
        rows = f"(SELECT * FROM {f.table.sql_name} t WHERE {where}) t"
        aggregate = f"array_agg({self.object(f.table, f.selection)} ORDER BY {order})"
        return f"(SELECT coalesce(array_to_json({aggregate}), '[]') FROM {prefix}{rows})"

    def connection(self, f: Connection) -> str:
        page, order = f.page, f.order
        prefix, where = self.source(f.table, f.link)
        where = f"{where} AND {all_of(f.where, self.params)}"
        keyset = [where]
        if page.after is not None:
            keyset.append(order.after(page.after, self.params))
        if page.before is not None:
            keyset.append(order.after(page.before, self.params, reverse=True))
        size = self.params.add(page.size, "int")
        limit = self.params.add(page.size + 1, "int")
        wanted = {what for _, what in f.parts if isinstance(what, str)}
        per_row = {"c": self.cursor(f)}
        if "edges" in wanted:
            per_row["e"] = self.edge(f, per_row["c"])
        if "nodes" in wanted:
            per_row["n"] = self.object(f.table, f.node_selection)
        direction = "DESC" if order.descending else "ASC"
        columns = ", ".join(f"{value} AS {name}" for name, value in per_row.items())
        rows = (
            f"SELECT {columns}, t.{order.column} AS o0, t.{order.tiebreak} AS o1"
            f" FROM (SELECT * FROM {f.table.sql_name} t WHERE {' AND '.join(keyset)}"
            f" ORDER BY {order.sql(reverse=page.backwards)} LIMIT {limit}) t"
        )
        aggregates = ", ".join(
            f"array_agg(s.{name} ORDER BY s.o0 {direction}, s.o1 {direction}) AS {name}" for name in per_row
        )
        window = "[a.more::int + 1:]" if page.backwards else f"[1:{size}]"
        parts = []
        for key, what in f.parts:
            if what == "edges":
                value = f"coalesce(array_to_json((a.e){window}), '[]')"
            elif what == "nodes":
                value = f"coalesce(array_to_json((a.n){window}), '[]')"
            elif what == "totalCount":
                value = f"(SELECT count(*) FROM {f.table.sql_name} t WHERE {where})"
            elif isinstance(what, Constant):
                value = self.params.add(what.value, "text")
            else:  # pageInfo: its own fields
                value = self.page_info(what, page, window)
            parts.append(f"{value} AS {_key(key)}")
        return (
            f"(SELECT row_to_json(_) FROM (SELECT {', '.join(parts)} FROM {prefix}"
            f"(SELECT {aggregates}, count(*) > {size} AS more FROM ({rows}) s) a) _)"
        )

    def edge(self, f: Connection, cursor: str) -> str:
        columns = []
        for key, what in f.edge_selection:
            if what == "cursor":
                value = cursor
            elif what == "node":
                value = self.object(f.table, f.node_selection)
            else:
                value = self.params.add(what.value, "text")
            columns.append(f"{value} AS {_key(key)}")
        return f"(SELECT row_to_json(_) FROM (SELECT {', '.join(columns)}) _)"

    def cursor(self, f: Connection) -> str:
        order = f.order
        value = _cursor_text(f"t.{order.column}", order.cast)
        name = self.params.add(f.order_name, "text")
        raw = f"'[' || to_json({name})::text || ',' || to_json({value})::text || ',' || to_json(t.{order.tiebreak}::text)::text || ']'"
        return f"rtrim(translate(encode(convert_to({raw}, 'UTF8'), 'base64'), E'+/\\n', '-_'), '=')"

    def page_info(self, fields: tuple[tuple[str, Any], ...], page: Page, window: str) -> str:
        more = "a.more"
        values = {
            "hasNextPage": ("true" if page.before is not None else "false") if page.backwards else more,
            "hasPreviousPage": more if page.backwards else ("true" if page.after is not None else "false"),
            "startCursor": f"((a.c){window})[1]",
            "endCursor": f"((a.c){window})[cardinality((a.c){window})]",
        }
        columns = []
        for key, what in fields:
            value = self.params.add(what.value, "text") if isinstance(what, Constant) else values[what]
            columns.append(f"{value} AS {_key(key)}")
        return f"(SELECT row_to_json(_) FROM (SELECT {', '.join(columns)}) _)"


def _cast(value: Any) -> str:
    return "int" if isinstance(value, int) else "text"


def isoformat(value: str) -> str:
    """A timestamptz as Python's ``datetime.isoformat`` prints it in UTC (microseconds only when not zero)."""
    utc = f"({value}) AT TIME ZONE 'UTC'"
    return (
        f"CASE WHEN {value} IS NOT NULL THEN to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN extract(microseconds FROM {utc})::int % 1000000 <> 0 THEN to_char({utc}, '.US') ELSE '' END"
        " || '+00:00' END"
    )


def _cursor_text(column: str, cast: str) -> str:
    """A sort value as the generic path writes it into a cursor (``isoformat`` or ``str``)."""
    if cast == "timestamptz":
        return isoformat(column)
    if cast == "date":
        return f"to_char({column}, 'YYYY-MM-DD')"
    return f"{column}::text"


def render(root: Root, viewer: Viewer) -> tuple[str, list[Any]]:
    """The statement and its parameters for ``root`` as ``viewer`` may see it."""
    renderer = _Renderer(viewer)
    body = renderer.object(None, root.selection)
    return f"SELECT {body}::text", renderer.params.values


async def fetch_data(db: Executor, sql: str, values: list[Any]) -> str:
    """The response's ``data`` as JSON text: one statement, one round trip."""
    rows = await db.fetch(sql, *values)
    return rows[0][0]
