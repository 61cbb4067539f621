"""Compiled answers kept while what they read is unchanged: exact, by the versions of migration 0022.

A statement that reads only versioned data (the statistics' summaries by district and year,
the region and district tables, and the contact points, which the network's and a scope's
point figures count) is run with the versions of everything it reads in the
same statement, so in the same snapshot as its figures; its answer is kept with those
versions. The next request of the same statement first reads the versions alone (one
indexed statement) and is served the kept answer only when they are the same, else the
statement runs again. A writer that commits after the statement read its snapshot has
bumped a version the kept answer does not have, whenever the answer is stored; a cell with
no version yet gets one with its first summary row, which changes what the reader sees.
Versions come from one sequence (migration 0024), so none is given twice, even after the
version table is emptied. Statements that read anything else (cases, ratings, awards,
memberships, pages of contact points...) are not kept.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from .access import Viewer
from .compiled import fetch_data, render
from .plan import Reads, Root, reads
from .pool import Executor
from .sql import Params

__all__ = ["VERSIONED_TABLES", "AnswerStore", "Answers", "VersionCheck", "fetch_answer", "render_versioned"]

VERSIONED_TABLES = frozenset({"region", "district", "contact_point"})
"""Tables whose every write bumps a version (migrations 0022 and 0025): the reference tables
statistics name their scopes by, and the contact points their tallies count."""

_LOWEST, _HIGHEST = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class VersionCheck:
    """The statement reading the versions of what a kept answer read, and its parameters."""

    sql: str
    values: tuple[Any, ...]


class AnswerStore(Protocol):
    """Where answers are kept: ``schema.caches.BoundedCache``'s interface."""

    def get(self, *parts: Any) -> Any: ...

    def put(self, value: Any, size: int, *parts: Any) -> None: ...


@dataclass
class Answers:
    """The kept answers of one app (its ``QueryEngine``'s), and how requests fared with them."""

    store: AnswerStore
    served: Counter[str] = field(default_factory=Counter)
    """``kept``: served from the store after the versions matched; ``stale``: found with other
    versions, run again; ``new``: not found, run and kept."""


def _versions(found: Reads, params: Params) -> str | None:
    """An expression giving the versions of everything ``found`` names as text, or None when it
    names something unversioned."""
    if not found.tables <= VERSIONED_TABLES:
        return None
    cells = [f"v.source = ANY({params.add(sorted(found.tables), 'text[]')})"]
    for source, first, last in sorted(found.summaries, key=repr):
        first_sql = params.add(_LOWEST if first is None else first, "int")
        last_sql = params.add(_HIGHEST if last is None else last, "int")
        cells.append(f"(v.source = {params.add(source, 'text')} AND v.year BETWEEN {first_sql} AND {last_sql})")
    listed = "v.source || ' ' || v.year || ' ' || v.district_code || ' ' || v.version"
    order = 'v.source COLLATE "C", v.year, v.district_code COLLATE "C"'
    return (
        f"(SELECT coalesce(string_agg({listed}, ',' ORDER BY {order}), '')"
        f" FROM data_version v WHERE {' OR '.join(cells)})"
    )


def render_versioned(root: Root, viewer: Viewer) -> tuple[str, list[Any], VersionCheck | None]:
    """``render``'s statement and parameters, and when its answer may be kept, its versions'
    check; the statement then gives the versions first and the data second."""
    sql, values = render(root, viewer)
    found = reads(root.selection)
    check_params = Params()
    check = _versions(found, check_params)
    if check is None:
        return sql, values, None
    params = Params(list(values))
    versions = _versions(found, params)
    return (
        f"SELECT {versions}, {sql.removeprefix('SELECT ')}",
        params.values,
        VersionCheck(f"SELECT {check}", tuple(check_params.values)),
    )


async def fetch_answer(
    db: Executor, answers: Answers, sql: str, values: list[Any], check: VersionCheck | None, shared: str | None = None
) -> str:
    """``fetch_data`` (``shared``: its statement's shared form), or for a statement with a
    version check the answer kept for it while its versions are those it was computed at."""
    if check is None:
        return await fetch_data(db, sql, values, shared)
    kept = answers.store.get(sql, values)
    if kept is not None:
        rows = await db.fetch(check.sql, *check.values)
        if rows[0][0] == kept[0]:
            answers.served["kept"] += 1
            return kept[1]
        answers.served["stale"] += 1
    else:
        answers.served["new"] += 1
    rows = await db.fetch(sql, *values)
    versions, text = rows[0]
    answers.store.put((versions, text), sys.getsizeof(versions) + sys.getsizeof(text) + 64, sql, values)
    return text
