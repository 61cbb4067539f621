"""Cache hints in the schema, as Apollo's ``@cacheControl``, and the max-age of an operation.

The directive is Apollo Server's (``maxAge``, ``scope``, ``inheritMaxAge``), printed in the
SDL so a router or CDN that reads it caches by the same hints. Its rules are Apollo's too:

- a field's hint is its own ``@cacheControl``, else its type's;
- a root field, or a field returning an object without either, allows 0 seconds (is not
  cached), unless its type says ``inheritMaxAge``: then it takes its parent field's age;
- a scalar field without a hint of its own adds nothing (it lives as long as its parent);
- the operation's max-age is the least of its fields', PRIVATE if any of them is.

Where Apollo reads an interface's or union's own hint, a field returning one takes here
the least of its possible types' (``Query.node`` so allows 0 seconds, for a ``Case`` may
come back): the walk is over the document, before anything runs, so it assumes the worst.

The hints: reference data (regions, districts, programmes) changes only with a release;
the network's records (contact points, enterprises, stores, awards, memberships, returns)
when the data is loaded again; statistics with every case written, so a minute. Cases are
private and never cached. Types that are values of another (counts, connections, edges,
pages, brands, honours) inherit their parent's age; so does a type without an identity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLField, GraphQLNamedType, GraphQLSchema, is_abstract_type, is_leaf_type
from strawberry import relay
from strawberry.schema_directive import Location
from strawberry.types.unset import UNSET
from strawberry.utils.str_converters import to_camel_case

__all__ = [
    "FIELD_MAX_AGES",
    "MAX_AGES",
    "CacheControl",
    "CacheControlScope",
    "Hint",
    "cache_header",
    "field_hint",
    "hint_types",
]


@strawberry.enum(description="Who may keep a response: any cache, or only the caller's own.")
class CacheControlScope(Enum):
    PUBLIC = "PUBLIC"
    PRIVATE = "PRIVATE"


@strawberry.schema_directive(
    name="cacheControl",
    locations=[Location.FIELD_DEFINITION, Location.OBJECT, Location.INTERFACE, Location.UNION],
    description="How long a response holding this field or type may be cached (Apollo's cache hints).",
)
class CacheControl:
    max_age: int | None = UNSET
    scope: CacheControlScope | None = UNSET
    inherit_max_age: bool | None = UNSET


MAX_AGES: Mapping[str, int] = {
    "Region": 3600,
    "District": 3600,
    "Programme": 3600,
    "ContactPoint": 300,
    "Enterprise": 300,
    "Store": 300,
    "StarAward": 300,
    "Membership": 300,
    "CrossStoreReturn": 300,
    "Stats": 60,
    "Case": 0,
}
"""Seconds a response holding each type may be kept; types not named inherit, or (records
with an identity) allow none."""
FIELD_MAX_AGES: Mapping[str, int] = {
    "Query.contactPoints": 300,
    "Query.enterprises": 300,
    "Query.crossStoreReturns": 300,
    "Query.cases": 0,
}
"""Root fields returning a connection, which inherits: the age of the records it pages."""
PRIVATE_TYPES = frozenset({"Case"})
PRIVATE_FIELDS = frozenset({"Query.cases"})
_ROOTS = frozenset({"Query", "Mutation", "Subscription"})


def hint_types(types: Iterable[tuple[type, Any]]) -> None:
    """Put ``MAX_AGES`` and ``FIELD_MAX_AGES`` on the types and fields as ``@cacheControl``
    before the schema is built."""
    for cls, definition in types:
        name = definition.name
        for member in definition.fields:
            field_name = f"{name}.{member.graphql_name or to_camel_case(member.python_name)}"
            if field_name in FIELD_MAX_AGES:
                scope = CacheControlScope.PRIVATE if field_name in PRIVATE_FIELDS else UNSET
                member.directives = [
                    *(member.directives or ()),
                    CacheControl(max_age=FIELD_MAX_AGES[field_name], scope=scope),
                ]
        if name in MAX_AGES:
            scope = CacheControlScope.PRIVATE if name in PRIVATE_TYPES else UNSET
            hint = CacheControl(max_age=MAX_AGES[name], scope=scope)
        elif name not in _ROOTS and not definition.is_interface and not issubclass(cls, relay.Node):
            hint = CacheControl(inherit_max_age=True)
        else:
            continue
        definition.directives = [*(definition.directives or ()), hint]


@dataclass(frozen=True)
class Hint:
    max_age: int | None
    """Seconds; None: the field adds no age of its own (a scalar, alive as long as its parent)."""
    private: bool = False


def field_hint(schema: GraphQLSchema, definition: GraphQLField, named: GraphQLNamedType, parent: int | None) -> Hint:
    """A selected field's hint; ``parent`` is its parent field's age (None at the root)."""
    own = _directive(definition)
    private = own is not None and own.scope is CacheControlScope.PRIVATE
    if own is not None and isinstance(own.max_age, int):
        return Hint(own.max_age, private)
    inherit = own is not None and own.inherit_max_age is True
    if is_leaf_type(named):
        return Hint(parent if inherit else None, private)
    kinds = schema.get_possible_types(named) if is_abstract_type(named) else [named]
    ages, private_kind = [], False
    for kind in kinds or [named]:
        hint = _directive(kind)
        private_kind |= hint is not None and hint.scope is CacheControlScope.PRIVATE
        if hint is not None and isinstance(hint.max_age, int):
            ages.append(hint.max_age)
        elif inherit or (hint is not None and hint.inherit_max_age is True):
            ages.append(parent or 0)
        else:
            ages.append(0)
    return Hint(min(ages), private or private_kind)


def _directive(holder: Any) -> CacheControl | None:
    """The ``@cacheControl`` on a field or type, from Strawberry's definition behind it."""
    definition = (holder.extensions or {}).get("strawberry-definition")
    return next((d for d in getattr(definition, "directives", None) or () if isinstance(d, CacheControl)), None)


def cache_header(max_age: int | None, private: bool) -> str:
    """``Cache-Control`` for an operation's answer as its hints have it, before the HTTP
    layer holds it to who asked and how (``api.http_cache``)."""
    if not max_age:
        return "no-store"
    return f"{'private' if private else 'public'}, max-age={max_age}"
