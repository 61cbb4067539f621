"""The query engine: which path serves a request, and what is kept between requests.

One per app (``app.state.engine``), reached by the schema's extensions through
``Context.engine``: the compiler of the schema, the document caches and the count of
operations served per path. ``route`` decides a request's path once, when it is admitted;
the fast lane (``api.fast_lane``), the compiled path (``schema.compiled``) and the
statistics' summary check (``resolvers.stats``) read that decision and nothing else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import HTTPConnection

from db.answers import Answers
from resolvers.compiler import Compiler

from .caches import ANSWERS_BUDGET, BoundedCache, DocumentCaches

__all__ = ["ROUTER_TRACE", "QueryEngine", "Route"]

Route = Literal["fast_lane", "compiled", "verify", "dataloader"]
"""``fast_lane``: a plain POSTed query in compiled mode, served without Strawberry's pipeline
when a statement for it is kept (else as ``compiled``); ``compiled``: one SQL statement when
the compiler has a plan, else the DataLoader path; ``verify``: both, compared byte for
byte; ``dataloader``: the DataLoader path alone."""

ROUTER_TRACE = "apollo-federation-include-trace"
"""A router asking for a trace wants the per-field timings of the DataLoader path."""

_FIELDS = frozenset({"query", "operationName", "variables", "extensions"})


@dataclass
class QueryEngine:
    """The path each request takes, and the compiler, caches and counts behind them."""

    schema: Any
    """The Strawberry schema (``schema.build``)."""
    mode: str = "compiled"
    """``LIAISON_EXECUTION``: compiled, dataloader, or verify."""
    fast_lane: bool = True
    """Whether compiled mode may use the fast lane (not when only trusted documents run)."""
    compiler: Compiler = field(init=False)
    caches: DocumentCaches = field(default_factory=DocumentCaches)
    served: Counter[str] = field(default_factory=Counter)
    """Operations served per path since start (``compiled``, ``dataloader``, and of the
    compiled ones ``fast_lane``), and in verify mode how many compiled answers matched
    (``verified``) or did not (``mismatch``)."""
    answers_budget: int = ANSWERS_BUDGET
    """Bytes of compiled answers kept (``LIAISON_ANSWERS_MIB``); 0: none."""
    answers: Answers = field(init=False)
    """Compiled answers kept while the versions of what they read are unchanged (``db.answers``)."""

    def __post_init__(self) -> None:
        self.compiler = Compiler(self.schema)
        self.answers = Answers(BoundedCache(self.answers_budget))

    def route(self, connection: HTTPConnection) -> Route:
        """The path of this request: decided on its first call and kept on the request."""
        state = connection.state
        known: Route | None = getattr(state, "route", None)
        if known is None:
            known = state.route = self._decide(connection, state)
        return known

    def _decide(self, connection: HTTPConnection, state: Any) -> Route:
        if self.mode == "dataloader" or connection.headers.get(ROUTER_TRACE):
            return "dataloader"
        if self.mode == "verify":
            return "verify"
        payload = getattr(state, "graphql_request", None)
        viewer = getattr(state, "viewer", None)
        if (
            self.fast_lane
            and isinstance(payload, dict)
            and isinstance(payload.get("query"), str)
            and not payload.get("extensions")  # a persisted query's hash: the pipeline resolves it
            and _FIELDS.issuperset(payload)
            and not (viewer is not None and viewer.trusted_only)
        ):
            return "fast_lane"
        return "compiled"
