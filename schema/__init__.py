"""The GraphQL schema: thin Strawberry types whose fields point at ``resolvers``."""

from .build import schema

__all__ = ["schema"]
