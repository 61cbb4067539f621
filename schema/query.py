"""The root Query type."""

from __future__ import annotations

import strawberry

from resolvers import network

from .network import Region


@strawberry.type(description="Read access to the liaison network.")
class Query:
    regions: list[Region] = strawberry.field(
        resolver=network.all_regions, description="Shanghai and the partner provinces, by code."
    )
