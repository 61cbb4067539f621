"""Case events for subscribers: one listener per process, fanned out to every subscription.

The ``EventHub`` (owned by the app) keeps one PostgreSQL connection that LISTENs; a
notification only wakes it. It then reads the positions committed since the last it read
(``db.case_events``: commit order) in one statement per batch, with each event as each
distinct access scope of the subscribers may see it, through the access layer (row
predicates and masks apply at delivery, with the viewer the subscriber has now), and hands
each event to the subscribers whose filter wants it. Every
subscriber's own queue is bounded; one that falls behind is read from the table instead,
from its last position, so it loses nothing. A subscriber that resumes ``after`` a
position reads what it missed from the table the same way, since events are rows.

Credentials are checked again every ``subscription_recheck`` seconds and at once when an
API key is revoked or its expiry changes (a notification on the same connection): a
credential that no longer holds ends its subscriptions with ``UNAUTHENTICATED``. Checking
per event would cost a key lookup per event and subscriber; the period bounds how long a
token past its expiry still receives, and revocation, the urgent case, is pushed.

Subscribers that ask the same thing of an event see the same answer: the same document and
variables under the same access scope (role, districts, regions, points: what row
predicates and masks depend on). The hub runs that execution once per event and sharing
key (``shared``) and every such subscriber is sent its result; dashboards of one district
and role are many subscribers and one execution.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
from collections import OrderedDict, defaultdict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from db.access import Role, Viewer
from db.case_events import (
    EventFilter,
    Listener,
    Scope,
    StreamedEvent,
    batch_after,
    head_position,
    listen,
    streamed_events,
)
from db.errors import DatabaseUnavailable
from db.pool import Database

from .errors import BadUserInput
from .limits import LimitSettings
from .loaders import Loaders

if TYPE_CHECKING:
    from .context import Context

__all__ = ["EventHub", "Session", "SubscriptionRefused", "Verify", "access_scope", "case_events", "cursor_of"]

log = logging.getLogger(__name__)

Verify = Callable[[str | None], Awaitable[Viewer]]
"""Authenticates a credential again (an ``Authorization`` value); raises, with a ``code``, if it no longer holds."""

_PAGE = 500
"""Events read per statement: by the listener, and by a subscriber catching up."""
_MAX_CODES = 100
"""Codes a filter may list per condition."""
_RETRY = 1.0
"""Seconds before the listener tries again after losing its connection or a read."""
_SHARED = 4096
"""Shared executions kept for subscribers still to take theirs, the oldest dropped first: a
subscriber that comes later than that (far behind) runs its own, with the same result."""


class SubscriptionRefused(Exception):
    """A subscription that cannot start or go on; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(eq=False)
class Session:
    """One websocket connection: the credential it sent in ``connection_init`` and its viewer."""

    authorization: str | None
    viewer: Viewer
    subscribers: set[Subscriber] = field(default_factory=set)
    ended: SubscriptionRefused | None = None
    """Why the credential no longer holds, once it does not."""
    scope: Viewer = field(init=False)
    """``access_scope(viewer)``: what the listener groups subscribers by, at every batch."""

    def __post_init__(self) -> None:
        self.scope = access_scope(self.viewer)


@dataclass(eq=False)
class Subscriber:
    session: Session
    wanted: EventFilter
    last: int
    """The last position delivered (or skipped as not wanted or not visible)."""
    queue: asyncio.Queue[StreamedEvent]
    behind: bool = False
    """The queue overflowed: read from the table from ``last`` before taking from it again."""
    woken: asyncio.Event = field(default_factory=asyncio.Event)


def access_scope(viewer: Viewer) -> Viewer:
    """What access depends on: subscribers with the same role and scope share one read, and
    one execution of the same document and variables per event."""
    return dataclasses.replace(viewer, credential=None, trusted_only=False)


class EventHub:
    def __init__(self, db: Database, dsn: str, limits: LimitSettings, verify: Verify) -> None:
        self.db, self.dsn, self.limits, self.verify = db, dsn, limits, verify
        self.sessions: set[Session] = set()
        self.per_credential: defaultdict[str, int] = defaultdict(int)
        self.position = 0
        """The last position the listener has read and fanned out."""
        self._woken = asyncio.Event()
        self._recheck = asyncio.Event()
        self._revoked_keys: set[str] = set()
        self._started: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._listener: Listener | None = None
        self.executions = 0
        """Executions run by ``shared`` since start (tests and the bench read it)."""
        self._shared: OrderedDict[Hashable, asyncio.Future[Any]] = OrderedDict()

    @property
    def subscriber_count(self) -> int:
        return sum(len(s.subscribers) for s in self.sessions)

    async def start(self) -> None:
        """Connect the listener, once; later calls wait for the first to have done it."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            try:
                self.position = await head_position(self.db)
                await self._listen()
            except BaseException as exc:
                self._started.set_exception(exc)
                self._started.exception()  # retrieved: the next caller tries again
                self._started = None
                raise
            self._started.set_result(None)
            self._tasks = [asyncio.create_task(self._pump()), asyncio.create_task(self._rechecks())]
        await asyncio.shield(self._started)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._listener is not None:
            self._listener.terminate()
            self._listener = None

    async def _listen(self) -> None:
        self._listener = await listen(self.dsn, self.db.timeout, self._notified, self._key_notified, self._lost)
        self._woken.set()  # whatever committed while nobody listened
        self._recheck.set()  # and any key revoked meanwhile

    def _notified(self, position: str) -> None:
        self._woken.set()

    def _key_notified(self, public_id: str) -> None:
        self._revoked_keys.add(public_id)
        self._recheck.set()

    def _lost(self) -> None:
        self._listener = None
        self._woken.set()  # the pump reconnects

    # Subscribing

    def open(self, authorization: str | None, viewer: Viewer) -> Session:
        session = Session(authorization, viewer)
        self.sessions.add(session)
        return session

    def close_session(self, session: Session) -> None:
        self.sessions.discard(session)

    async def subscribe(self, session: Session, wanted: EventFilter, after: int | None) -> Subscriber:
        """A registered subscriber, or ``SubscriptionRefused``; deliver with ``events``."""
        if session.viewer.role is Role.ANONYMOUS:
            raise SubscriptionRefused("FORBIDDEN", "Case events need a credential: send it in `connection_init`.")
        await self._check(session)  # the credential as it is now, not as at connection_init
        await self.start()
        if after is not None and after > self.position and after > await head_position(self.db):
            raise SubscriptionRefused("BAD_USER_INPUT", "`after` names no event cursor of this stream.")
        if session.ended is not None:
            raise session.ended
        viewer = session.viewer  # operations per connection are bounded by api.subscriptions
        limit = self.limits.max_subscriptions_per_credential
        if viewer.credential is not None and self.per_credential[viewer.credential] >= limit:
            raise SubscriptionRefused(
                "TOO_MANY_SUBSCRIPTIONS", f"A credential holds at most {limit} subscriptions across connections."
            )
        subscriber = Subscriber(session, wanted, self.position if after is None else after, asyncio.Queue())
        subscriber.behind = after is not None
        session.subscribers.add(subscriber)
        if viewer.credential is not None:
            self.per_credential[viewer.credential] += 1
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        session = subscriber.session
        if subscriber in session.subscribers:
            session.subscribers.discard(subscriber)
            credential = session.viewer.credential
            if credential is not None:
                self.per_credential[credential] -= 1
                if self.per_credential[credential] <= 0:
                    del self.per_credential[credential]

    async def events(self, subscriber: Subscriber) -> AsyncGenerator[StreamedEvent, None]:
        """The subscriber's events in commit order, until it is cancelled or its credential
        ends; unregisters it however it ends."""
        try:
            while True:
                if subscriber.session.ended is not None:
                    raise subscriber.session.ended
                if subscriber.behind:
                    subscriber.behind = False
                    while not subscriber.queue.empty():
                        subscriber.queue.get_nowait()
                    async for item in self._catch_up(subscriber):
                        yield item
                    continue
                if subscriber.queue.empty():
                    subscriber.woken.clear()
                    await subscriber.woken.wait()
                    continue
                item = subscriber.queue.get_nowait()
                if item.position > subscriber.last:
                    subscriber.last = item.position
                    yield item
        finally:
            self.unsubscribe(subscriber)

    async def _catch_up(self, subscriber: Subscriber) -> AsyncIterator[StreamedEvent]:
        """What the table holds after ``last`` for this subscriber, page by page."""
        while True:
            page = await streamed_events(
                self.db, subscriber.session.viewer, after=subscriber.last, wanted=subscriber.wanted, limit=_PAGE
            )
            for item in page:
                if subscriber.session.ended is not None:
                    raise subscriber.session.ended
                subscriber.last = item.position
                yield item
            if len(page) < _PAGE:
                return

    # Fan-out

    async def _pump(self) -> None:
        while True:
            await self._woken.wait()
            self._woken.clear()
            try:
                if self._listener is None:
                    await self._listen()
                while await self._fan_out():
                    pass
            except Exception as exc:  # not even a fault of ours may stop delivery for good: the rows wait
                if isinstance(exc, DatabaseUnavailable):
                    log.warning("case event listener: the database is unavailable; retrying in %ss", _RETRY)
                else:
                    log.exception("case event listener: fan-out failed; retrying in %ss", _RETRY)
                await asyncio.sleep(_RETRY)
                self._woken.set()

    async def _fan_out(self) -> bool:
        """Deliver the next page of positions; whether there may be more.

        The page is read for the subscribers registered when it starts; one who subscribes
        while it is read is not read for, yet the cursor moves past the page: it reads
        the page's positions from the table (``behind``), however it subscribed. (Its own
        catch-up may have read before they committed, or, without ``after``, it had none.)"""
        groups: defaultdict[Viewer, list[Subscriber]] = defaultdict(list)
        for session in self.sessions:
            for subscriber in session.subscribers:
                groups[session.scope].append(subscriber)
        read_for = {s for members in groups.values() for s in members}
        viewers = sorted(groups, key=repr)  # a stable order: the same statement text, one prepared plan
        scopes = [Scope(v, {s.wanted for s in groups[v]}) for v in viewers]
        rows = await batch_after(self.db, self.position, _PAGE, scopes)
        for route, items in rows:
            for viewer, item in zip(viewers, items, strict=True):
                if item is not None:
                    for subscriber in groups[viewer]:
                        if subscriber.wanted.wants(route):
                            self._offer(subscriber, item)
        if rows:
            self.position = rows[-1].route.position
            for session in self.sessions:
                for subscriber in session.subscribers:
                    if subscriber not in read_for and subscriber.last < self.position:
                        subscriber.behind = True
                        subscriber.woken.set()
        return len(rows) == _PAGE

    def _offer(self, subscriber: Subscriber, item: StreamedEvent) -> None:
        if subscriber.behind:
            return
        if subscriber.queue.qsize() >= self.limits.subscription_queue:
            subscriber.behind = True  # read from the table from its last position instead
        else:
            subscriber.queue.put_nowait(item)
        subscriber.woken.set()

    # Executions shared

    def shared(self, key: Hashable, execute: Callable[[], Any]) -> Awaitable[Any]:
        """What ``execute`` gives (a value or an awaitable of one) for ``key``, run once: the
        first subscriber to ask runs it, as a task of its own, so that it completes for the
        others even if that subscriber goes; the others with the same key await its result.
        ``key`` holds the event and everything that decides what a subscriber sees of it."""
        found = self._shared.get(key)
        if found is None:

            async def run() -> Any:
                result = execute()
                return await result if inspect.isawaitable(result) else result

            self.executions += 1
            found = self._shared[key] = asyncio.ensure_future(run())
            if len(self._shared) > _SHARED:
                self._shared.popitem(last=False)
        return asyncio.shield(found)

    # Credentials

    async def _rechecks(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.limits.subscription_recheck):
                    await self._recheck.wait()
            self._recheck.clear()
            keys, self._revoked_keys = self._revoked_keys, set()
            await self.recheck({f"key:{k}" for k in keys} if keys else None)

    async def recheck(self, credentials: set[str] | None = None) -> None:
        """Authenticate again every session with a credential (or those of ``credentials``),
        subscribed or not yet."""
        for session in list(self.sessions):
            if credentials is None or session.viewer.credential in credentials:
                await self._check(session)

    async def _check(self, session: Session) -> None:
        if session.authorization is None or session.ended is not None:
            return
        try:
            await self.verify(session.authorization)
        except DatabaseUnavailable:
            return  # not the credential's fault; the next check asks again
        except Exception as exc:
            self.end(session, SubscriptionRefused(getattr(exc, "code", "UNAUTHENTICATED"), str(exc)))

    def end(self, session: Session, reason: SubscriptionRefused) -> None:
        session.ended = reason
        for subscriber in session.subscribers:
            subscriber.woken.set()


def cursor_of(item: StreamedEvent) -> str:
    """An event's cursor: its position in the stream, as text (opaque to clients)."""
    return str(item.position)


def _position(cursor: str) -> int:
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) < 19):
        raise BadUserInput("`after` must be the `cursor` of an event this stream delivered.")
    return int(cursor)


async def case_events(
    context: Context,
    *,
    district_codes: list[str] | None,
    contact_point_codes: list[str] | None,
    kinds: list[str] | None,
    after: str | None,
) -> _Delivery:
    """A subscriber's events, once the subscription is admitted (refusals are raised here,
    before the stream starts, so the client gets them as the operation's error)."""
    hub, session = context.events, context.session
    if hub is None or session is None:
        raise SubscriptionRefused("BAD_REQUEST", "Subscribe over a websocket (graphql-transport-ws) on /graphql.")
    for name, codes in (("districtCodes", district_codes), ("contactPointCodes", contact_point_codes)):
        if codes is not None and len(codes) > _MAX_CODES:
            raise BadUserInput(f"`{name}` lists at most {_MAX_CODES} codes.")
    wanted = EventFilter(tuple(district_codes or ()), tuple(contact_point_codes or ()), tuple(kinds or ()))
    subscriber = await hub.subscribe(session, wanted, None if after is None else _position(after))
    return _Delivery(context, hub, subscriber)


class _Delivery:
    """The subscriber's events as the executor iterates them; closing it unregisters the
    subscriber even when it was never iterated (a client that completes at once)."""

    def __init__(self, context: Context, hub: EventHub, subscriber: Subscriber) -> None:
        self.context, self.hub, self.subscriber = context, hub, subscriber
        self.items = hub.events(subscriber)

    def __aiter__(self) -> _Delivery:
        return self

    async def __anext__(self) -> StreamedEvent:
        item = await anext(self.items)
        # Fresh loaders per event: a connection lives for hours, and a loader's cache
        # would grow with it and serve what was true at the first event.
        self.context.loaders = Loaders(self.context.db, self.context.viewer)
        return item

    async def aclose(self) -> None:
        try:
            await self.items.aclose()
        finally:
            self.hub.unsubscribe(self.subscriber)
