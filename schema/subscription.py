"""Live changes of cases for dashboards: ``caseEvents`` over graphql-transport-ws on /graphql."""

from __future__ import annotations

import datetime
from collections.abc import AsyncGenerator, Iterator

import strawberry
from graphql import ExecutionResult, GraphQLError
from strawberry import Info
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from resolvers import case_events as live

from .case import Case, CaseEvent
from .enums import CaseEventKind, stored

__all__ = ["CaseEventDelivery", "CaseEventStreamFilter", "Subscription", "SubscriptionsOverWebSocket"]


@strawberry.input(description="Which case events to deliver; all given conditions must hold.")
class CaseEventStreamFilter:
    district_codes: list[str] | None = strawberry.field(default=None, description="At points in these districts.")
    contact_point_codes: list[str] | None = strawberry.field(default=None, description="At any of these points.")
    kinds: list[CaseEventKind] | None = strawberry.field(default=None, description="Of any of these event kinds.")
    after: str | None = strawberry.field(
        default=None,
        description="Resume: the `cursor` of the last event you received. Events committed since then come first,"
        " then live ones. Without it, only events committed after you subscribe.",
    )


@strawberry.type(description="A case event as delivered to a subscriber, with the case as you may see it now.")
class CaseEventDelivery:
    committed_at: datetime.datetime = strawberry.field(description="When the change committed (UTC).")
    event: CaseEvent = strawberry.field(description="What happened.")
    case: Case = strawberry.field(description="The case after the change; consumers' data masked as for queries.")

    @strawberry.field(description="Opaque; send it back as `filter.after` to resume after this event.")
    def cursor(self) -> str:
        return live.cursor_of(self)  # type: ignore[arg-type]


@strawberry.type(description="Live updates, over graphql-transport-ws on /graphql; see the README.")
class Subscription:
    @strawberry.subscription(
        description="Case events in commit order, as they commit, each checked against your access when delivered."
        ' The credential goes in `connection_init` (`{"Authorization": "Bearer …"}`); a credential that'
        " expires or is revoked ends the subscription with UNAUTHENTICATED."
    )
    async def case_events(
        self, info: Info, filter: CaseEventStreamFilter | None = None
    ) -> AsyncGenerator[CaseEventDelivery, None]:
        wanted = filter or CaseEventStreamFilter()
        return await live.case_events(  # type: ignore[return-value]
            info.context,
            district_codes=wanted.district_codes,
            contact_point_codes=wanted.contact_point_codes,
            kinds=[stored(k) for k in wanted.kinds] if wanted.kinds else None,
            after=wanted.after,
        )


class SubscriptionsOverWebSocket(SchemaExtension):
    """Strawberry lets a subscription through on HTTP (for its multipart transport, which is
    off here), where it would run as a query and fail; refuse it with a code instead."""

    def on_execute(self) -> Iterator[None]:
        execution = self.execution_context
        if (
            execution.operation_type is OperationType.SUBSCRIPTION
            and getattr(execution.context, "events", None) is None
        ):
            refusal = GraphQLError(_OVER_HTTP, extensions={"code": "BAD_REQUEST"})
            execution.result = ExecutionResult(data=None, errors=[refusal])
        yield


_OVER_HTTP = "Subscriptions run over a websocket on /graphql (graphql-transport-ws); see the README."
