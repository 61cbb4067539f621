"""Live changes of cases for dashboards: ``caseEvents`` over graphql-transport-ws on /graphql."""

from __future__ import annotations

import datetime
import inspect
from collections.abc import AsyncGenerator, Hashable, Iterator
from typing import Any

import strawberry
from graphql import ExecutionResult, GraphQLError, print_ast
from strawberry import Info
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.graphql import OperationType

from db.case_events import StreamedEvent
from resolvers import case_events as live

from .case import Case, CaseEvent
from .enums import CaseEventKind, stored

__all__ = [
    "CaseEventDelivery",
    "CaseEventStreamFilter",
    "SharedData",
    "SharedEventExecution",
    "Subscription",
    "SubscriptionsOverWebSocket",
]


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


class SharedEventExecution(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor, but a case event is executed once per sharing key, not once per
    subscriber (``EventHub.shared``): the event, the document and operation, the variables
    and the subscriber's access scope, which is all an execution depends on (the loaders are
    fresh per event and read as that scope may). Queries and mutations run as before."""

    _asks: Hashable | None = None
    """What this subscription asks, as a key: computed once, copied to each event's executor."""
    _sharing: Hashable | None = None
    """This event's sharing key, on an event's executor."""

    def build_per_event_executor(self, payload: Any) -> Any:
        hub = getattr(self.context_value, "events", None)
        viewer = getattr(self.context_value, "viewer", None)
        if hub is not None and viewer is not None and isinstance(payload, StreamedEvent) and self._asks is None:
            operation = self.operation
            document = operation.loc.source.body if operation.loc is not None else print_ast(operation)
            name = operation.name.value if operation.name is not None else None
            self._asks = (document, name, repr(self.variable_values.coerced), live.access_scope(viewer))
        executor = super().build_per_event_executor(payload)
        if self._asks is not None and isinstance(payload, StreamedEvent) and isinstance(executor, SharedEventExecution):
            executor._sharing = (payload.position, self._asks)
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        if self._sharing is None:
            return super().execute_operation(serially)

        async def execute() -> Any:
            result = super(SharedEventExecution, self).execute_operation(serially)
            result = await result if inspect.isawaitable(result) else result
            if isinstance(result, ExecutionResult) and result.data is not None:
                result.data = SharedData(result.data)
            return result

        return self.context_value.events.shared(self._sharing, execute)


class SharedData(dict[str, Any]):
    """An event's data as every subscriber sharing its execution gets it (the same object):
    the transport serialises it once, into ``serialised``, and sends those bytes to each
    sharer inside its own message (api.subscriptions)."""

    __slots__ = ("serialised",)

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.serialised: bytes | None = None
