"""The one schema object, built once at import."""

from __future__ import annotations

import strawberry

from .errors import ClientErrors
from .query import Query

__all__ = ["schema"]

schema = strawberry.Schema(query=Query, extensions=[ClientErrors])
