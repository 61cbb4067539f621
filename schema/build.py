"""The one schema object, built once at import."""

from __future__ import annotations

import logging

import strawberry
from graphql.error import GraphQLError
from strawberry import Info
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from resolvers.errors import BadUserInput
from resolvers.private_apis import graphql_schema

from .cache_control import hint_types
from .caches import DocumentCache, TextValidationCache
from .case import Case
from .case_write import CaseMutations, IdempotentReplay
from .compiled import CompiledExecution
from .contact_point import ContactPoint, StarAward
from .cost import reachable_types, size_lists
from .cross_store_return import CrossStoreReturn
from .education import EducationActivity
from .enterprise import Enterprise, Store
from .errors import ClientErrors, without_values
from .limits import OperationLimits
from .network import District, Region, Street
from .programme import Membership, Programme
from .query import Query
from .saved_operation import SavedOperationMutations
from .scalars import SCALARS
from .subscription import SharedEventExecution, Subscription, SubscriptionsOverWebSocket
from .tracing import OperationTracing, RouterTracing

__all__ = ["schema"]

log = logging.getLogger(__name__)

# Node types reached only through interfaces or lazily: listed so the schema knows them.
NODE_TYPES = [
    Case,
    ContactPoint,
    CrossStoreReturn,
    District,
    EducationActivity,
    Enterprise,
    Membership,
    Programme,
    Region,
    StarAward,
    Store,
    Street,
]


class Schema(strawberry.federation.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Not Strawberry's traceback per error: a client's mistake is not the server's.

        ClientErrors logs the unexpected ones, with their traceback and request id.
        """
        for error in errors:
            log.info("request error: %s", without_values(error.message.split("\n", 1)[0]))

    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        """Strawberry's, with each malformed representation a BAD_USER_INPUT at its index.

        Strawberry indexes its type map by ``__typename`` unguarded, so one representation
        without a known entity type would fail the whole list.
        """
        valid: list[FederationAny | None] = [
            FederationAny(dict(representation))  # a copy: Strawberry pops its __typename
            if isinstance(representation, dict) and representation.get("__typename") in ENTITY_NAMES
            else None
            for representation in representations
        ]
        resolved = iter(super().entities_resolver(info, [r for r in valid if r is not None]))
        return [next(resolved) if r is not None else BadUserInput(_REFUSED) for r in valid]  # type: ignore[misc]


@strawberry.type(description="Changes: case intake and mediation; saved queries (admins).")
class Mutation(CaseMutations, SavedOperationMutations):
    pass


size_lists([Query, *NODE_TYPES])
hint_types(reachable_types([Query, Mutation, *NODE_TYPES]))

schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    # 2.9: the newest version both composers know (Apollo's and The Guild's), and the
    # first with @cost and @listSize for a router's demand control.
    federation_version="2.9",
    types=NODE_TYPES,
    # Factories: a fresh extension per request; what they keep between requests is the
    # app's engine's (``schema.engine``), reached through the request's context.
    # Batches (a JSON array of operations) are allowed; api.graphql holds them to the
    # setting LIAISON_MAX_OPERATIONS, below this ceiling.
    config=StrawberryConfig(batching_config={"max_operations": 1000}, scalar_map=SCALARS),
    # A case event executed once for all subscribers asking the same of it (schema.subscription).
    execution_context_class=SharedEventExecution,
    extensions=[
        OperationTracing,  # first: its span encloses the others' work
        ClientErrors,
        OperationLimits,  # before DocumentCache: it sets the token cap the parse obeys
        DocumentCache,
        TextValidationCache,
        # ftv1 traces only for requests with `apollo-federation-include-trace: ftv1`.
        RouterTracing,
        IdempotentReplay,
        SubscriptionsOverWebSocket,
        CompiledExecution,  # last: after OperationLimits has checked and charged the operation
    ],
)

ENTITY_NAMES = frozenset(t.name for t in graphql_schema(schema).get_type("_Entity").types)  # type: ignore[union-attr]
"""The federation entities, as the schema's ``_Entity`` union lists them."""
_REFUSED = "A representation is an object whose `__typename` names an entity: " + ", ".join(sorted(ENTITY_NAMES)) + "."
