"""Every DataLoader of a request, in one place, made on first use and kept per request.

A loader is keyed by what its batch shares (table, column, filter, order, page), so the
keys of one batch differ only in the parent: one SQL statement per field path, never one
per parent. Nothing outlives the request: a shared loader would leak data between viewers;
every batch reads as the request's viewer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from db.access import Viewer
from db.batch import PageRows, counts_by, pages_by, rows_by
from db.errors import InvalidInput
from db.model import Table
from db.pool import Database
from db.sql import Order, Page, Predicate

__all__ = ["Loaders"]

Batch = Callable[[Sequence[Any]], Awaitable[Sequence[Any]]]


def _refusing_nul(batch: Batch) -> Batch:
    """``batch`` over the keys PostgreSQL can take: a text key holding a NUL fails alone, with
    ``InvalidInput``, rather than the one statement of its batch failing for every key."""

    async def checked(keys: Sequence[Any]) -> Sequence[Any]:
        refused = [isinstance(k, str) and "\x00" in k for k in keys]
        if not any(refused):
            return await batch(keys)
        found = iter(await batch([k for k, r in zip(keys, refused, strict=True) if not r]) if not all(refused) else [])
        return [InvalidInput() if r else next(found) for r in refused]

    return checked


class Loaders:
    def __init__(self, db: Database, viewer: Viewer) -> None:
        self.db = db
        self.viewer = viewer
        self._made: dict[Hashable, DataLoader[Any, Any]] = {}

    def _get(self, key: Hashable, batch: Batch) -> DataLoader[Any, Any]:
        loader = self._made.get(key)
        if loader is None:
            loader = self._made[key] = DataLoader(_refusing_nul(batch))
        return loader

    def one(self, table: Table, column: str) -> DataLoader[Any, Any]:
        """The row whose ``column`` is the key, or None."""

        async def batch(keys: Sequence[Any]) -> list[Any]:
            return [rows[0] if rows else None for rows in await rows_by(self.db, self.viewer, table, column, keys)]

        return self._get(("one", table.name, column), batch)

    def many(self, table: Table, column: str) -> DataLoader[Any, list[Any]]:
        """All rows whose ``column`` is the key, in the table's default order."""

        async def batch(keys: Sequence[Any]) -> list[list[Any]]:
            return await rows_by(self.db, self.viewer, table, column, keys)

        return self._get(("many", table.name, column), batch)

    def page(
        self, table: Table, parent: str | None, where: tuple[Predicate, ...], order: Order, page: Page
    ) -> DataLoader[Any, PageRows]:
        """A page per parent key; with ``parent`` None, load the single key None."""

        async def batch(keys: Sequence[Any]) -> list[PageRows]:
            return await pages_by(self.db, self.viewer, table, parent, keys, where, order, page)

        return self._get(("page", table.name, parent, where, order, page), batch)

    def scoped(self, stat: Callable[..., Awaitable[list[Any]]], scope: str, *shared: Any) -> DataLoader[str, Any]:
        """A statistic of ``db.stats`` per scope key (region or district code, or the network)."""

        async def batch(keys: Sequence[str]) -> list[Any]:
            return await stat(self.db, scope, keys, *shared)

        return self._get(("stat", stat.__name__, scope, shared), batch)

    def count(self, table: Table, parent: str | None, where: tuple[Predicate, ...]) -> DataLoader[Any, int]:
        async def batch(keys: Sequence[Any]) -> list[int]:
            return await counts_by(self.db, self.viewer, table, parent, keys, where)

        return self._get(("count", table.name, parent, where), batch)
