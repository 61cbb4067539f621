"""The GraphQL schema: thin Strawberry types whose fields point at ``resolvers``, its
extensions (limits, caches, the query engine) and errors.

Imported by ``api``; it may import ``resolvers`` and ``db``, never ``api``.
"""

from .build import schema

__all__ = ["schema"]
