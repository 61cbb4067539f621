"""The one schema object, built once at import."""

from __future__ import annotations

import logging

import strawberry
from graphql.error import GraphQLError
from strawberry.extensions import ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from .caches import DocumentCache
from .case import Case
from .contact_point import ContactPoint, StarAward
from .cross_store_return import CrossStoreReturn
from .enterprise import Enterprise, Store
from .errors import ClientErrors
from .limits import Limits
from .network import District, Region
from .programme import Membership, Programme
from .query import Query

__all__ = ["schema"]

log = logging.getLogger(__name__)

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


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Not Strawberry's traceback per error: a client's mistake is not the server's.

        ClientErrors logs the unexpected ones, with their traceback and request id.
        """
        for error in errors:
            log.info("request error: %s", error.message.split("\n", 1)[0])


schema = Schema(
    query=Query,
    types=NODE_TYPES,
    # Factories: a fresh extension per request; the caches live at module level.
    # Batches (a JSON array of operations) are allowed; api.graphql holds them to the
    # setting LIAISON_MAX_OPERATIONS, below this ceiling.
    config=StrawberryConfig(batching_config={"max_operations": 1000}),
    extensions=[
        ClientErrors,
        Limits,  # before DocumentCache: it sets the token cap the parse obeys
        lambda: DocumentCache(maxsize=DOCUMENTS_CACHED),
        lambda: ValidationCache(maxsize=DOCUMENTS_CACHED),
    ],
)
