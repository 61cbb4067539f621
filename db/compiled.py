"""A whole operation as one SQL statement whose single value is the response's ``data`` JSON.

The plan is plain, typed data (``db.plan``), made by the operation compiler from a validated
document and the one mapping of ``db.model``; this module renders it.
Objects are ``row_to_json`` over a subselect whose columns carry the response keys (so the
output is compact and keeps the selection's order), lists ``array_to_json(array_agg(...))``,
to-one relations and pages correlated subqueries over the same indexes the loaders use. The
object of each row that a relation or page reads is a ``CROSS JOIN LATERAL`` beside the row
(``row_object``): PostgreSQL folds it into the row's own target list instead of running a
subplan per row.
Every value from the request is a ``$n`` parameter; the only request text in the SQL are
response keys, GraphQL names that are checked against the grammar once more before they
are quoted as column aliases. An enum's names are the schema's, written in as a constant
map (``_enum_map``), checked as plain words the same way. Row access and masks are
``db.access``'s, as on the generic path, so both paths read exactly what the viewer may see.

Output conventions, shared with the generic path (and tested byte for byte against it):
timestamps, decimals and cursors as ``db.formats`` defines them, floats as orjson writes
them (``json_float``, migration 0013), global IDs as standard base64 of ``Type:key``. Case statistics and return flows are read
from the summary tables, as the generic path reads them (``db.stats``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, assert_never

from .access import Viewer, column_sql, row_predicates
from .formats import cursor_sql, cursor_value_sql, decimal_sql, timestamp_sql
from .model import Table
from .plan import (
    Constant,
    Counted,
    Either,
    Entities,
    Field,
    GlobalId,
    InSet,
    Link,
    Nested,
    Paged,
    PageInfo,
    Root,
    Rows,
    Scalar,
    Scope,
    Scoped,
    Selection,
    Sequence,
    Summary,
)
from .pool import Database, Executor
from .sql import Page, Params, all_of
from .stats import CASE_FIGURES, RETURN_FLOWS, TALLY, Breakdown, case_figures, return_flows_of

__all__ = ["fetch_data", "render"]

_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*\Z")


def _key(name: str) -> str:
    if not _NAME.match(name):  # the GraphQL grammar allows nothing else; never trust it twice
        raise ValueError(f"not a GraphQL name: {name!r}")
    return f'"{name}"'


@dataclass
class _Renderer:
    viewer: Viewer
    params: Params = field(default_factory=Params)
    aliases: int = 0
    scope: tuple[Scope, str | None] = ("network", None)
    """The statistics scope being rendered and the SQL of its key."""

    def alias(self) -> str:
        self.aliases += 1
        return f"k{self.aliases}"

    # -- objects and their fields, over the row alias ``t`` of ``table``

    def object(self, table: Table | None, selection: Selection) -> str:
        columns = ", ".join(f"{self.field(table, f)} AS {_key(f.key)}" for f in selection)
        return f"(SELECT row_to_json(_) FROM (SELECT {columns}) _)"

    def row_object(self, table: Table, selection: Selection) -> tuple[str, str]:
        """The object of the row ``t`` of ``table`` as (its JSON, the FROM item to add after ``t``):
        a lateral subselect with no FROM of its own, which the planner pulls up into the row's
        target list (measured: 6-8 % of the dashboard's CPU against a subplan per row)."""
        o = f"obj{self.alias()[1:]}"
        columns = ", ".join(f"{self.field(table, f)} AS {_key(f.key)}" for f in selection)
        return f"row_to_json({o})", f" CROSS JOIN LATERAL (SELECT {columns}) {o}"

    def field(self, table: Table | None, f: Field) -> str:
        match f:
            case Constant():
                return self.params.add(f.value, "text")
            case Scalar():
                assert table is not None
                return self.scalar(table, f)
            case GlobalId():
                value = f"{self.params.add(f.type_name + ':', 'text')} || t.{f.column}::text"
                return f"translate(encode(convert_to({value}, 'UTF8'), 'base64'), E'\\n', '')"
            case InSet():
                return f"t.{f.column} = ANY({self.params.add(list(f.values), 'text[]')})"
            case Rows():
                return self.rows(f)
            case Sequence():
                items = ", ".join("NULL::json" if item is None else self.rows(item) for item in f.items)
                return f"array_to_json(ARRAY[{items}]::json[])"
            case Either():
                return f"CASE WHEN t.{f.column} IS NOT NULL THEN {self.rows(f.first)} ELSE {self.rows(f.second)} END"
            case Entities():
                return self.entities(f)
            case Paged():
                return self.connection(f)
            case Scoped():
                return self.scoped(f)
            case Nested():
                return self.object(None, f.selection)
            case Counted():
                return self.counted(f)
            case Summary():
                return self.summary(f)
            case _:
                assert_never(f)

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
            value, lateral = self.row_object(TALLY, f.selection)
            aggregate = f"array_agg({value} ORDER BY t.o)"
            return f"(SELECT coalesce(array_to_json({aggregate}), '[]') FROM ({tally.rows()}) t{lateral})"
        rows = tally.value(*self.scope, self.params)
        if f.selection is None:
            return f"({rows})"
        value, lateral = self.row_object(TALLY, f.selection)
        aggregate = f"array_agg({value} ORDER BY {tally.order})"
        return f"(SELECT coalesce(array_to_json({aggregate}), '[]') FROM ({rows}) t{lateral})"

    def summary(self, f: Summary) -> str:
        scope, key = self.scope
        if f.figures is CASE_FIGURES:
            median = any(isinstance(c, Scalar) and c.column == "median_days_to_close" for c in f.selection)
            figures = case_figures(scope, key, f.start, f.before, self.params, median)
            return f"(SELECT {self.object(CASE_FIGURES, f.selection)} FROM ({figures}) t)"
        assert f.figures is RETURN_FLOWS
        flows = return_flows_of(scope, key, f.start, f.before, self.params)
        value, lateral = self.row_object(RETURN_FLOWS, f.selection)
        aggregate = f"array_agg({value} ORDER BY {RETURN_FLOWS.order})"
        return f"(SELECT coalesce(array_to_json({aggregate}), '[]') FROM ({flows}) t{lateral})"

    def scalar(self, table: Table, f: Scalar) -> str:
        value = column_sql(table, f.column, self.viewer, self.params)
        match f.form:
            case "plain":
                return value
            case "datetime":
                return timestamp_sql(value)
            case "decimal":
                return decimal_sql(value)
            case "float":
                return f"json_float({value})"
            case "enum":
                # A stored value the enum does not know fails the statement, as it fails the generic
                # path (which then answers with its internal error), instead of passing as null;
                # null stays null (both sides of the coalesce are).
                unknown = f"(({value})::text || ' is no value of the enum')::int::text"
                return f"coalesce({_enum_map(f.names)} ->> ({value})::text, {unknown})"
            case _:
                assert_never(f.form)

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
        value, lateral = self.row_object(f.table, f.selection)
        if not f.many:
            # The loaders take the first row in the table's order; a unique key has one row.
            ordered = "" if f.link is not None and f.link.column in f.table.unique else f" ORDER BY {order}"
            inner = f"SELECT * FROM {f.table.sql_name} t WHERE {where}{ordered} LIMIT 1"
            return f"(SELECT {value} FROM {prefix}({inner}) t{lateral})"
        rows = f"(SELECT * FROM {f.table.sql_name} t WHERE {where}) t"
        return (
            f"(SELECT coalesce(array_to_json(array_agg({value} ORDER BY {order})), '[]') FROM {prefix}{rows}{lateral})"
        )

    def entities(self, f: Entities) -> str:
        """One lookup per representation, by the branch of its kind, aggregated in their order
        over the arrays ``t(kind, key, id, o)``, which the items' links read as their parent row."""
        arrays = (
            self.params.add(f.kinds, "int[]"),
            self.params.add(f.texts, "text[]"),
            self.params.add(f.ids, "bigint[]"),
        )
        branches = " ".join(f"WHEN {kind} THEN {self.rows(item)}" for kind, item in enumerate(f.items, 1))
        value = f"CASE t.kind {branches} END" if branches else "NULL::json"
        return (
            f"(SELECT coalesce(array_to_json(array_agg({value} ORDER BY t.o)), '[]')"
            f" FROM unnest({', '.join(arrays)}) WITH ORDINALITY t(kind, key, id, o))"
        )

    def connection(self, f: Paged) -> str:
        page, order = f.page, f.order
        prefix, where = self.source(f.table, f.link)
        where = f"{where} AND {all_of(f.where, self.params)}"
        wanted = {what for _, what in f.parts if isinstance(what, str)}
        info = {what for _, part in f.parts if isinstance(part, PageInfo) for _, what in part.fields}
        # The row past the page says whether there is more: fetched only when something reads it
        # (a backward page's window, or a forward page's hasNextPage).
        more = page.backwards or "hasNextPage" in info
        edge_reads = {what for _, what in f.edge_selection} if "edges" in wanted else set()
        cursor = self.cursor(f) if info & {"startCursor", "endCursor"} or "cursor" in edge_reads else None
        node, lateral = (
            self.row_object(f.table, f.node_selection) if "nodes" in wanted or "node" in edge_reads else (None, "")
        )
        per_row = {}
        if cursor is not None and info & {"startCursor", "endCursor"}:
            per_row["c"] = cursor
        if "edges" in wanted:
            per_row["e"] = self.edge(f, cursor, node)
        if node is not None and "nodes" in wanted:
            per_row["n"] = node
        direction = "DESC" if order.descending else "ASC"
        size = window = ""
        if per_row or more:
            keyset = [where]
            if page.after is not None:
                keyset.append(order.after(page.after, self.params))
            if page.before is not None:
                keyset.append(order.after(page.before, self.params, reverse=True))
            size = self.params.add(page.size, "int")  # a value bound per request: SQL adds to it
            columns = [f"{value} AS {name}" for name, value in per_row.items()]
            columns += [f"t.{order.column} AS o0", f"t.{order.tiebreak} AS o1"]
            rows = (
                f"SELECT {', '.join(columns)}"
                f" FROM (SELECT * FROM {f.table.sql_name} t WHERE {' AND '.join(keyset)}"
                f" ORDER BY {order.sql(reverse=page.backwards)} LIMIT {f'{size} + 1' if more else size}) t{lateral}"
            )
            aggregates = [
                f"array_agg(s.{name} ORDER BY s.o0 {direction}, s.o1 {direction}) AS {name}" for name in per_row
            ]
            if more:
                aggregates.append(f"count(*) > {size} AS more")
            source = f"(SELECT {', '.join(aggregates)} FROM ({rows}) s) a"
            window = "[a.more::int + 1:]" if page.backwards else f"[1:{size}]" if more else ""
        else:  # only counts and constants: no row of the page is read (nor its cursors and size bound)
            source = "(SELECT) a"
        parts = []
        for key, what in f.parts:
            match what:
                case "edges":
                    value = f"coalesce(array_to_json((a.e){window}), '[]')"
                case "nodes":
                    value = f"coalesce(array_to_json((a.n){window}), '[]')"
                case "totalCount":
                    value = f"(SELECT count(*) FROM {f.table.sql_name} t WHERE {where})"
                case Constant():
                    value = self.params.add(what.value, "text")
                case PageInfo():
                    value = self.page_info(what, page, window)
                case _:
                    assert_never(what)
            parts.append(f"{value} AS {_key(key)}")
        return f"(SELECT row_to_json(_) FROM (SELECT {', '.join(parts)} FROM {prefix}{source}) _)"

    def edge(self, f: Paged, cursor: str | None, node: str | None) -> str:
        columns = []
        for key, what in f.edge_selection:
            match what:
                case "cursor":
                    assert cursor is not None
                    value = cursor
                case "node":
                    assert node is not None
                    value = node
                case Constant():
                    value = self.params.add(what.value, "text")
                case _:
                    assert_never(what)
            columns.append(f"{value} AS {_key(key)}")
        return f"(SELECT row_to_json(_) FROM (SELECT {', '.join(columns)}) _)"

    def cursor(self, f: Paged) -> str:
        order = f.order
        value = cursor_value_sql(f"t.{order.column}", order.cast)
        return cursor_sql(self.params.add(f.order_name, "text"), value, f"t.{order.tiebreak}")

    def page_info(self, info: PageInfo, page: Page, window: str) -> str:
        more = "a.more"
        values = {
            "hasNextPage": ("true" if page.before is not None else "false") if page.backwards else more,
            "hasPreviousPage": more if page.backwards else ("true" if page.after is not None else "false"),
            "startCursor": f"((a.c){window})[1]",
            "endCursor": f"((a.c){window})[cardinality((a.c){window})]",
        }
        columns = []
        for key, what in info.fields:
            value = self.params.add(what.value, "text") if isinstance(what, Constant) else values[what]
            columns.append(f"{value} AS {_key(key)}")
        return f"(SELECT row_to_json(_) FROM (SELECT {', '.join(columns)}) _)"


_STORED = re.compile(r"[_0-9A-Za-z]+\Z")


def _enum_map(names: tuple[tuple[Any, str], ...]) -> str:
    """An enum's stored values to its GraphQL names, as a jsonb constant: one lookup a row,
    folded once when the statement is planned, where a ``CASE`` of ``$n`` comparisons cost
    PostgreSQL 7 % more and asyncpg a parameter pair each to encode (bench/RESULTS.md). The
    values are the schema's, never the request's, and plain words, checked once more here
    so that the constant needs no escaping."""
    pairs = {str(stored): name for stored, name in names if type(stored) in (str, int)}  # as ::text writes them
    if len(pairs) != len(names) or not all(_STORED.match(k) and _NAME.match(v) for k, v in pairs.items()):
        raise ValueError(f"not plain enum values: {names!r}")
    return "'{" + ", ".join(f'"{stored}": "{name}"' for stored, name in pairs.items()) + "}'::jsonb"


def render(root: Root, viewer: Viewer) -> tuple[str, list[Any]]:
    """The statement and its parameters for ``root`` as ``viewer`` may see it."""
    renderer = _Renderer(viewer)
    body = renderer.object(None, root.selection)
    return f"SELECT {body}::text", renderer.params.values


async def fetch_data(db: Executor, sql: str, values: list[Any], shared: str | None = None) -> str:
    """The response's ``data`` as JSON text: one statement, one round trip. With the statement's
    ``shared`` form (``db.sql.shared_form``), on the service's pool, requests of this statement
    waiting for a connection at the same time share one (``Database.fetch_shared``)."""
    if shared is not None and isinstance(db, Database):
        text: str = await db.fetch_shared(sql, shared, values)
        return text
    rows = await db.fetch(sql, *values)
    return rows[0][0]
