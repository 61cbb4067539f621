"""The one schema object, built once at import."""

from __future__ import annotations

import strawberry
from strawberry.extensions import ValidationCache

from .caches import DocumentCache
from .case import Case
from .contact_point import ContactPoint, StarAward
from .cross_store_return import CrossStoreReturn
from .enterprise import Enterprise, Store
from .errors import ClientErrors
from .network import District, Region
from .programme import Membership, Programme
from .query import Query

__all__ = ["schema"]

# Node types reached only through interfaces or lazily: listed so the schema knows them.
NODE_TYPES = [
    Case,
    ContactPoint,
    CrossStoreReturn,
    District,
    Enterprise,
    Membership,
    Programme,
    Region,
    StarAward,
    Store,
]

DOCUMENTS_CACHED = 1024
"""Distinct documents whose parse and validation are kept (LRU): frontends send few."""

schema = strawberry.Schema(
    query=Query,
    types=NODE_TYPES,
    # Factories: a fresh extension per request; the caches live at module level.
    extensions=[
        ClientErrors,
        lambda: DocumentCache(maxsize=DOCUMENTS_CACHED),
        lambda: ValidationCache(maxsize=DOCUMENTS_CACHED),
    ],
)
