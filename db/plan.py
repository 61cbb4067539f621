"""The plan of a compiled operation: plain, typed data, with neither SQL nor GraphQL in it.

The operation compiler (``resolvers.compiler``) makes a ``Root`` from a validated document
and the one mapping of ``db.model``; ``db.compiled`` renders it as one statement. A
selection is a tuple of ``Field``s, each one of the node types below; the renderer matches
every kind (``assert_never``), so a new kind that it does not render fails the type check.
The modules of both layers import this one; it imports only the mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, assert_never

from .model import Table
from .sql import Order, Page, Predicate
from .stats import Breakdown, Tally

__all__ = [
    "ConnectionPart",
    "Constant",
    "Counted",
    "EdgeField",
    "Either",
    "Entities",
    "Field",
    "Form",
    "GlobalId",
    "InSet",
    "Link",
    "LinkCast",
    "Nested",
    "PageInfo",
    "PageInfoField",
    "Reads",
    "Root",
    "Rows",
    "Scalar",
    "Scope",
    "Scoped",
    "Selection",
    "Sequence",
    "Slot",
    "Summary",
    "reads",
]

Form = Literal["plain", "datetime", "decimal", "float", "enum"]
"""How a column is written in the response (``db.formats``)."""

Scope = Literal["network", "region", "district", "street", "contact_point"]
"""What statistics count over: the whole network, or a region's, district's or street's rows;
or (education) a contact point's."""

LinkCast = Literal["text", "bigint"]
"""The SQL type of a lookup's value."""

PageInfoField = Literal["hasNextPage", "hasPreviousPage", "startCursor", "endCursor"]
EdgeField = Literal["cursor", "node"]


@dataclass(frozen=True, slots=True)
class Slot:
    """Where a plan made once per variable shape holds a request's value: the renderer passes
    it on as a parameter like any value, and each request binds its own ``index``-th value
    there (``resolvers.bindings``). Nothing may compute with it."""

    index: int


@dataclass(frozen=True)
class Scalar:
    """A column as GraphQL serializes it, in its ``form``."""

    key: str
    column: str
    form: Form = "plain"
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


@dataclass(frozen=True)
class Link:
    """How rows of a relation are found from the row around them.

    ``t.column = parent.attr``; or ``t.column = value`` (a root lookup, as ``cast``); or, with
    ``via`` (table, its column, parent attr, its attr to match), through one row of another table.
    """

    column: str
    attr: str | None = None
    value: Any = None
    cast: LinkCast | None = None
    via: tuple[Table, str, str, str] | None = None


@dataclass(frozen=True)
class Rows:
    """A related object (``many`` False: the first row, or null) or list of objects."""

    key: str
    table: Table
    link: Link | None
    selection: Selection
    many: bool = False
    order: str | None = None
    """SQL order over ``t``; the table's default when None."""


@dataclass(frozen=True)
class Sequence:
    """A list of to-one lookups in the order asked (``nodes``): null where none is found."""

    key: str
    items: tuple[Rows | None, ...]


@dataclass(frozen=True)
class Either:
    """A to-one object of a union type: ``first`` when the row's ``column`` is set, else ``second``."""

    key: str
    column: str
    first: Rows
    second: Rows


@dataclass(frozen=True)
class Entities:
    """Federation's ``_entities``: per representation, in the order given, the row its key
    names in the ``kinds``-th of ``items`` (1-based; 0: none, null), found by ``texts`` or
    ``ids`` (the key column's type): three arrays, bound per request. Each item is a to-one
    lookup whose link reads ``key`` or ``id`` of the representation (``Link.attr``)."""

    key: str
    kinds: Any
    texts: Any
    ids: Any
    items: tuple[Rows, ...]


@dataclass(frozen=True)
class PageInfo:
    """A page's ``pageInfo``: (key, field or ``Constant``) pairs."""

    fields: tuple[tuple[str, PageInfoField | Constant], ...]


ConnectionPart = Literal["edges", "nodes", "totalCount"] | Constant | PageInfo
"""What a response key of a connection holds."""


@dataclass(frozen=True)
class Paged:
    """A Relay page: ``parts`` are its response keys and what each holds."""

    key: str
    table: Table
    link: Link | None
    where: tuple[Predicate, ...]
    order: Order
    order_name: str
    page: Page
    parts: tuple[tuple[str, ConnectionPart], ...]
    node_selection: Selection = ()
    edge_selection: tuple[tuple[str, EdgeField | Constant], ...] = ()
    """(key, what) of each edge."""


@dataclass(frozen=True)
class Scoped:
    """Statistics of a scope: an object whose tallies count over the rows of the scope keyed
    by the parent's ``attr`` (none for the network)."""

    key: str
    scope: Scope
    attr: str | None
    selection: Selection


@dataclass(frozen=True)
class Nested:
    """An object of figures over the enclosing scope, with no row of its own."""

    key: str
    selection: Selection


@dataclass(frozen=True)
class Counted:
    """A tally of the enclosing scope: a number, or (``selection``) its groups as objects; or
    a breakdown of the enclosing case figures (``by_status`` ...) as objects."""

    key: str
    tally: Tally | Breakdown
    selection: Selection | None = None


@dataclass(frozen=True)
class Summary:
    """Figures of the enclosing scope over [start, before), read from the summary tables:
    ``figures`` is ``CASE_FIGURES`` (an object) or ``RETURN_FLOWS`` (a list of objects)."""

    key: str
    figures: Table
    start: Any
    before: Any
    selection: Selection


Field = (
    Scalar
    | Constant
    | GlobalId
    | InSet
    | Rows
    | Sequence
    | Either
    | Entities
    | Paged
    | Scoped
    | Nested
    | Counted
    | Summary
)
"""One response key of an object and what it holds."""

Selection = tuple[Field, ...]


@dataclass(frozen=True)
class Root:
    selection: Selection
    typename: str = "Query"


@dataclass(frozen=True)
class Reads:
    """What a plan's statement reads: tables by name, and the summaries (``case`` for case
    figures, ``return`` for return flows) by the years of the days they cover (None: unbounded)."""

    tables: frozenset[str] = frozenset()
    summaries: frozenset[tuple[str, int | None, int | None]] = frozenset()

    def __or__(self, other: Reads) -> Reads:
        return Reads(self.tables | other.tables, self.summaries | other.summaries)


FILTERED = "filtered"
"""What a page with a filter reads besides its table: a filter's predicates may read any
table (a contact point's current stars, a case's district), so no version covers it."""


def reads(selection: Selection, scope: Scope | None = None) -> Reads:
    """What the statement of ``selection`` reads, as ``db.compiled`` renders it: the tables of
    its rows and of their links, the tables a tally counts, and the summaries with the
    district table they are joined to. Row access adds only tables of rows that have it
    (cases and returns), which are read already. ``scope``: the enclosing statistics' scope
    (a street's case figures are counted from the cases: its summaries are per district)."""
    found = Reads()
    for f in selection:
        match f:
            case Scalar() | Constant() | GlobalId() | InSet():
                pass
            case Rows():
                found |= _rows(f.table, f.link) | reads(f.selection, scope)
            case Sequence():
                for item in f.items:
                    found |= reads((item,), scope) if item is not None else Reads()
            case Either():
                found |= reads((f.first, f.second), scope)
            case Entities():
                for row in f.items:
                    found |= reads((row,), scope)
            case Paged():
                filtered = Reads(frozenset({FILTERED})) if f.where else Reads()
                found |= _rows(f.table, f.link) | filtered | reads(f.node_selection, scope)
            case Scoped():
                found |= reads(f.selection, f.scope)
            case Nested():
                found |= reads(f.selection, scope)
            case Counted():
                tables: frozenset[str] = frozenset()  # a breakdown counts from the figures' row, read already
                if not isinstance(f.tally, Breakdown):
                    tables = f.tally.tables | ({"district"} if scope == "region" else frozenset())
                found |= Reads(tables) | reads(f.selection or (), scope)
            case Summary() if scope == "street" and f.figures.name == "case_figures":
                found |= Reads(frozenset({"case", "contact_point"})) | reads(f.selection, scope)
            case Summary():
                source = "case" if f.figures.name == "case_figures" else "return"
                first = None if f.start is None else f.start.year
                last = None if f.before is None else (f.before - timedelta(days=1)).year
                found |= Reads(frozenset({"district"}), frozenset({(source, first, last)})) | reads(f.selection, scope)
            case _:
                assert_never(f)
    return found


def _rows(table: Table, link: Link | None) -> Reads:
    hop = () if link is None or link.via is None else (link.via[0].name,)
    return Reads(frozenset({table.name, *hop}))
