"""Federated tracing (ftv1) for the router only, with errors as clients see them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLResolveInfo
from strawberry.extensions.tracing.apollo_federation import ApolloFederationTracingExtension

__all__ = ["RouterTracing"]


class RouterTracing(ApolloFederationTracingExtension):
    """Strawberry's ftv1 extension, answering only the federation router (when a router
    secret is configured, requests carrying it), putting a masked message in place of an
    unexpected exception's text, which the trace would otherwise carry to the client, and
    costing nothing per field when no trace is asked for."""

    def _check_should_trace(self) -> bool:
        context = self.execution_context.context
        return bool(getattr(context, "from_router", False)) and super()._check_should_trace()

    def resolve(self, _next: Callable[..., Any], root: Any, info: GraphQLResolveInfo, *args: Any, **kwargs: Any) -> Any:
        # Strawberry's hook is a coroutine function: without a trace it still turned every
        # field into a coroutine, which costs time and, when the request is cut short,
        # leaves "never awaited" coroutines behind. Untraced, the resolver is called as is.
        if not self._should_trace:
            return _next(root, info, *args, **kwargs)
        return super().resolve(_next, root, info, *args, **kwargs)

    def _make_error(self, e: Exception, info: GraphQLResolveInfo) -> Any:
        if not isinstance(getattr(e, "code", None), str):
            e = Exception("Internal server error.")
        return super()._make_error(e, info)
