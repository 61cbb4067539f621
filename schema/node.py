"""Relay's Node for records of the mapping: global IDs from a natural key, batched refetch.

The same keys make the types federation entities: a router's representation names the
natural key (``{"__typename": "District", "code": "330100"}``) or the global ``id``
(``resolvers.entities.reference_key``, which the compiled path reads too), and on the
DataLoader path resolves through the request's loaders, so ``_entities`` costs a statement per type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from strawberry import Info

from db.model import Table
from resolvers import relations as rel
from resolvers.entities import reference_key

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

    async def resolve_reference(cls: type, /, info: Info, **representation: Any) -> Any:
        # Strawberry passes the representation's fields as keywords: ``cls`` positional-only,
        # so that a field named so (a router sends what other subgraphs hold too) is one of them.
        key = reference_key(cls.__name__, column, representation)
        return None if key is None else await rel.lookup(info, table, column, key)

    def is_type_of(cls: type, obj: Any, info: Info) -> bool:
        return isinstance(obj, table.row)

    def attach(cls: C) -> C:
        cls.node_source = (table, column)  # type: ignore[attr-defined]  # read by the operation compiler
        cls.resolve_id = classmethod(resolve_id)  # type: ignore[attr-defined]
        cls.resolve_nodes = classmethod(resolve_nodes)  # type: ignore[attr-defined]
        cls.is_type_of = classmethod(is_type_of)  # type: ignore[attr-defined]
        cls.resolve_reference = classmethod(resolve_reference)  # type: ignore[attr-defined]
        return cls

    return attach
