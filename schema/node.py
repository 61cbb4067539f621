"""Relay's Node for records of the mapping: global IDs from a natural key, batched refetch."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from strawberry import Info

from db.model import Table
from resolvers import relations as rel

__all__ = ["keyed_by"]

C = TypeVar("C", bound=type)


def keyed_by(table: Table, column: str) -> Callable[[C], C]:
    """Make a ``relay.Node`` type's ID its ``column`` (a natural key where one exists).

    Applied under ``@strawberry.type``. ``node``/``nodes`` then load through the
    request's loaders, and records of ``table`` resolve to this type on an interface.
    """
    integer = column == "id"

    def resolve_id(cls: type, root: Any, *, info: Info) -> str:
        return str(getattr(root, column))

    async def resolve_nodes(cls: type, *, info: Info, node_ids: Iterable[str], required: bool = False) -> list[Any]:
        keys: list[Any] = list(node_ids)
        if integer:
            valid = [k if k.isascii() and k.isdigit() and len(k) < 19 else None for k in keys]
            found = iter(await rel.lookup_many(info, table, column, [int(k) for k in valid if k is not None]))
            return [next(found) if k is not None else None for k in valid]
        return await rel.lookup_many(info, table, column, keys)

    def is_type_of(cls: type, obj: Any, info: Info) -> bool:
        return isinstance(obj, table.row)

    def attach(cls: C) -> C:
        cls.resolve_id = classmethod(resolve_id)  # type: ignore[attr-defined]
        cls.resolve_nodes = classmethod(resolve_nodes)  # type: ignore[attr-defined]
        cls.is_type_of = classmethod(is_type_of)  # type: ignore[attr-defined]
        return cls

    return attach
