"""Writing cases: intake and every step of mediation, each in one short transaction.

A write is at most three statements between BEGIN and COMMIT:

1. claim: name the writer for the audit trigger (transaction-local settings), take the
   idempotency key's transaction lock without waiting, and read what the key produced
   before and what the write is about (the case, or the contact point and enterprise);
2. the write: an intake (the number counter and the case row) or an UPDATE guarded by the
   version the caller saw; the database writes its event;
3. store: keep the key's result, and read the event back.

Refusals are ``Refused`` with a stable code and the input field at fault; the transaction
is rolled back, so nothing of a refused write remains. Database refusals (the lifecycle
trigger, CHECKs, foreign keys) are mapped to the same codes: no asyncpg error leaves here.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from .access import Role, Viewer
from .errors import WriteConflict, translate_errors
from .pool import Database
from .records import CaseEvent

__all__ = [
    "CLOSED",
    "Claim",
    "Intake",
    "Refused",
    "Step",
    "Writer",
    "Written",
    "open_case",
    "purge_expired_keys",
    "step_case",
]

CLOSED = frozenset({"settled", "not_settled", "transferred"})

_EVENT_COLUMNS = ", ".join(f"e.{c} AS event_{c}" for c in CaseEvent._fields)


def _writable(point: str) -> str:
    """Whether the writer may write at contact point ``point`` (an alias): every point, the
    named ones, or those of the named districts and regions."""
    return (
        f"($4::boolean OR {point}.code = ANY($5::text[]) OR {point}.district_code = ANY($6::text[])"
        f" OR EXISTS (SELECT 1 FROM district d WHERE d.code = {point}.district_code"
        " AND d.region_code = ANY($7::text[])))"
    )


# $1 credential, $2 role, $3 request id, $4-$7 scope, $8 note, $9 detail, $10 mutation,
# $11 idempotency key (or NULL).
_CLAIM = f"""
SELECT set_config('liaison.actor', $1, true) IS NOT NULL
       AND set_config('liaison.actor_role', $2, true) IS NOT NULL
       AND set_config('liaison.request_id', $3, true) IS NOT NULL
       AND set_config('liaison.note', $8, true) IS NOT NULL
       AND set_config('liaison.detail', $9, true) IS NOT NULL AS named,
       $11::text IS NULL OR pg_try_advisory_xact_lock(hashtextextended($1 || '/' || $10 || '/' || $11, 0)) AS claimed,
       k.input_sha256, k.case_id AS stored_case_id, {_EVENT_COLUMNS},
       {{target}}
  FROM (SELECT 1) one
  LEFT JOIN idempotency_key k ON k.credential = $1 AND k.mutation = $10 AND k.key = $11 AND k.expires_at > now()
  LEFT JOIN case_event e ON e.id = k.event_id
  {{joins}}"""

_STEP_HOLDS = """CASE WHEN $13::text IN ('reopened', 'transferred', 'handed_over') THEN coalesce((
        SELECT e.kind = $13 AND e.note = $8 AND e.changes @> coalesce(nullif($9, '')::jsonb, '{}')
          FROM case_event e WHERE e.case_id = c.id ORDER BY e.at DESC, e.id DESC LIMIT 1), false)
    ELSE EXISTS (SELECT 1 FROM case_transition t WHERE t.kind = $13 AND t.to_status = c.status) END"""
"""Whether a step's outcome holds already, so that it is a no-op: the status it leads to;
for a reopening, a transfer or a handover, whose resulting status says too little (an open
case was not reopened; a case at a point was not handed over to it), the case's last event
being this very step, with the same reason and destination."""

CLAIM_INTAKE = _CLAIM.format(
    target=f"p.id AS point_id, p.district_code, {_writable('p')} AS writable,"
    " ent.id AS enterprise_id, CASE WHEN isfinite(coalesce($14::timestamptz, now()))"
    " THEN extract(year FROM coalesce($14::timestamptz, now()) AT TIME ZONE 'Asia/Shanghai')::int END AS year,"
    " coalesce($14::timestamptz, now()) > now() AS in_future,"
    " coalesce($14::timestamptz, now()) < now() - $15::int * interval '1 day' AS too_early",
    joins="LEFT JOIN contact_point p ON p.code = $12 LEFT JOIN enterprise ent ON ent.credit_code = $13",
)
"""Claim for an intake: $12 contact point code, $13 respondent's credit code, $14 openedAt,
$15 the days it may lie back. asyncpg sends Python's first and last instants as ±infinity:
no year then, and too early or in the future."""

CLAIM_STEP = _CLAIM.format(
    target=f"c.id, c.status, c.version, c.amount_claimed, c.amount_recovered, c.kind, c.category,"
    f" c.respondent_enterprise_id, {_writable('p')} AS writable,"
    " c.closed_at > now() - $15::int * interval '1 day' AS reopenable,"
    " (SELECT t.to_status FROM case_transition t WHERE t.from_status = c.status AND t.kind = $13) AS next_status,"
    f" {_STEP_HOLDS} AS step_holds,"
    f" ent.id AS enterprise_id, tp.id AS target_point_id, {_writable('tp')} AS target_writable,"
    f" c.contact_point_id, {_writable('kp')} AS key_point_writable",
    joins='LEFT JOIN "case" c ON c.number = $12 LEFT JOIN contact_point p ON p.id = c.contact_point_id'
    " LEFT JOIN enterprise ent ON ent.credit_code = $14 LEFT JOIN contact_point tp ON tp.code = $16"
    " LEFT JOIN contact_point kp ON kp.id = coalesce(k.contact_point_id, c.contact_point_id)",
)
"""Claim for a step of a case: $12 number, $13 the step's kind in case_transition, $14 a
respondent's credit code, $15 the days a closed case may be reopened within, $16 the
contact point a case is handed over to."""

INTAKE = """
WITH numbered AS (
    INSERT INTO case_number_counter AS n (district_code, year, last)
    VALUES ($1::text, $2::int,
            CASE WHEN EXISTS (SELECT 1 FROM case_number_counter WHERE district_code = $1 AND year = $2) THEN 1
            ELSE (SELECT coalesce(max(substr(number, 14)::int), 0) + 1 FROM "case"
                   WHERE number LIKE 'C' || $1 || '-' || $2 || '-%' AND char_length(number) = 19) END)
    ON CONFLICT (district_code, year) DO UPDATE SET last = n.last + 1
    RETURNING last
)
INSERT INTO "case" (number, kind, channel, category, status, contact_point_id, respondent_enterprise_id,
                    amount_claimed, opened_at, summary, consumer_name, consumer_phone)
SELECT 'C' || $1 || '-' || $2 || '-' || lpad(last::text, 6, '0'), $3, $4, $5, 'received', $6, $7, $8,
       coalesce($9::timestamptz, now()), $10, $11, $12
  FROM numbered
RETURNING id, number"""
"""The number counter and the case, in one statement: a rolled-back intake frees its number."""

STEP = """
UPDATE "case" c SET
    status = coalesce($3::text, c.status),
    closed_at = CASE WHEN $3::text IS NULL THEN c.closed_at
                     WHEN $3::text IN ('settled', 'not_settled', 'transferred') THEN greatest(now(), c.opened_at) END,
    contact_point_id = coalesce($10::bigint, c.contact_point_id),
    amount_recovered = CASE WHEN $4::boolean THEN $5::numeric
                            WHEN $3::text IS NOT NULL AND $3::text <> 'settled' THEN NULL
                            ELSE c.amount_recovered END,
    kind = coalesce($6::text, c.kind),
    category = coalesce($7::text, c.category),
    respondent_enterprise_id = CASE WHEN $8::boolean THEN $9::bigint ELSE c.respondent_enterprise_id END
 WHERE c.id = $1 AND c.version = $2
RETURNING c.version"""
"""A versioned change: no row back means someone else changed the case first. Leaving
settled (reopened, closed unsettled, transferred) drops the amount recovered: it was the
settlement's, and statistics sum it over every status. $10: the point it is handed over to."""

STORE = f"""
WITH event AS (
    SELECT * FROM case_event WHERE id = nullif(current_setting('liaison.event_id', true), '')::bigint
), stored AS (
    INSERT INTO idempotency_key (credential, mutation, key, input_sha256, case_id, event_id, expires_at,
                                 contact_point_id)
    SELECT $1, $2, $3, $4, $5, (SELECT id FROM event), now() + $6::int * interval '1 hour', $7
     WHERE $3::text IS NOT NULL
    ON CONFLICT (credential, mutation, key) DO UPDATE
       SET input_sha256 = EXCLUDED.input_sha256, case_id = EXCLUDED.case_id, event_id = EXCLUDED.event_id,
           created_at = now(), expires_at = EXCLUDED.expires_at, contact_point_id = EXCLUDED.contact_point_id
     WHERE idempotency_key.expires_at <= now()
    RETURNING 1
)
SELECT (SELECT count(*) FROM stored) AS stored, {_EVENT_COLUMNS}
  FROM (SELECT 1) one LEFT JOIN event e ON true"""
"""Keep the key's result (an expired key is taken over) and the point it was written at
($7: a replay is checked against the scope there), and read the event back."""

RESYNC_COUNTER = """
UPDATE case_number_counter SET last = coalesce((
    SELECT n - 1 FROM generate_series(last + 1, least(last + 10000, 999999)) n
     WHERE NOT EXISTS (SELECT 1 FROM "case" WHERE number = 'C' || $1 || '-' || $2 || '-' || lpad(n::text, 6, '0'))
     LIMIT 1), last)
 WHERE district_code = $1 AND year = $2"""
"""After a collision: the counter just before the first free number, so that the numbers
taken outside count as issued and no number is skipped."""

CURRENT_VERSION = """
SELECT c.version, EXISTS (SELECT 1 FROM idempotency_key k WHERE k.credential = $2 AND k.mutation = $3
                                 AND k.key = $4 AND k.expires_at > now()) AS key_taken
  FROM "case" c WHERE c.id = $1"""
"""The version a failed write met, and whether its key was stored meanwhile: read in a new
snapshot, since the claim's was taken before its lock was granted."""

_REFUSALS = {
    "case_transition": ("ILLEGAL_TRANSITION", "number"),
    "case_handover": ("ILLEGAL_TRANSITION", "number"),
    "case_closed": ("CASE_CLOSED", "number"),
    "case_check2": ("RECOVERED_WITHOUT_CLAIM", "amountRecovered"),
    "case_amount_claimed_check": ("NEGATIVE_AMOUNT", "amountClaimed"),
    "case_amount_recovered_check": ("NEGATIVE_AMOUNT", "amountRecovered"),
    "case_consumer_phone_check": ("INVALID_PHONE", "consumerPhone"),
    "case_respondent_enterprise_id_fkey": ("UNKNOWN_ENTERPRISE", "respondent"),
    "case_contact_point_id_fkey": ("UNKNOWN_CONTACT_POINT", "contactPoint"),
}
"""Database refusals by constraint, as the code and input field a client is told."""


class Refused(Exception):
    """A write that cannot happen as asked; nothing of it was kept."""

    def __init__(self, code: str, field: str | None, message: str, current_version: int | None = None) -> None:
        super().__init__(message)
        self.code, self.field, self.message, self.current_version = code, field, message, current_version


@dataclass(frozen=True)
class Writer:
    """Who writes, where they may, and the request it is part of: what the audit records."""

    credential: str
    role: Role
    request_id: str
    every_point: bool = False
    contact_point_codes: tuple[str, ...] = ()
    district_codes: tuple[str, ...] = ()
    region_codes: tuple[str, ...] = ()

    @classmethod
    def of(cls, viewer: Viewer, request_id: str) -> Writer:
        return cls(
            viewer.credential or viewer.role.value,
            viewer.role,
            request_id,
            viewer.role is Role.ADMIN,
            viewer.contact_point_codes,
            viewer.district_codes,
            viewer.region_codes,
        )


@dataclass(frozen=True)
class Claim:
    """An idempotency key: per credential and mutation, with the hash of the input it came with."""

    mutation: str
    key: str | None
    input_sha256: bytes
    hours: int = 24


@dataclass(frozen=True)
class Intake:
    contact_point: str
    kind: str
    channel: str
    category: str
    summary: str
    consumer_name: str | None
    consumer_phone: str | None
    respondent: str | None
    amount_claimed: Decimal | None
    opened_at: datetime.datetime | None
    backdate_days: int = 90
    """How many days before now ``opened_at`` may lie."""


@dataclass(frozen=True)
class Step:
    """A change of an existing case; ``kind`` is the lifecycle step (None: no status change)."""

    number: str
    expected_version: int
    kind: str | None = None
    note: str = ""
    detail: dict[str, Any] | None = None
    amount_recovered: Decimal | None = None
    sets_recovered: bool = False
    case_kind: str | None = None
    category: str | None = None
    respondent: str | None = None
    sets_respondent: bool = False
    reopen_days: int = 30
    handover_to: str | None = None
    """With ``kind`` handed_over: the contact point the case moves to."""


@dataclass(frozen=True)
class Written:
    case_id: int
    event: CaseEvent | None
    """None for a no-op: the target state held already."""
    replayed: bool = False


def _event(row: asyncpg.Record) -> CaseEvent | None:
    if row["event_id"] is None:
        return None
    return CaseEvent(*(row[f"event_{c}"] for c in CaseEvent._fields))


async def _claimed(
    conn: asyncpg.Connection,
    query: str,
    writer: Writer,
    claim: Claim,
    note: str,
    detail: dict[str, Any] | None,
    *target: Any,
) -> asyncpg.Record:
    """Statement 1: the writer named, the key's lock, what the key produced before, the target."""
    row = await conn.fetchrow(query, *_claim_args(writer, claim, note, detail), *target)
    if not row["claimed"]:
        raise _key_in_use("is still running")
    return row


def _claim_args(writer: Writer, claim: Claim, note: str, detail: dict[str, Any] | None) -> list[Any]:
    return [
        writer.credential,
        writer.role.value,
        writer.request_id,
        writer.every_point,
        list(writer.contact_point_codes),
        list(writer.district_codes),
        list(writer.region_codes),
        note,
        json.dumps(detail) if detail else "",
        claim.mutation,
        claim.key,
    ]


def _replay(row: asyncpg.Record, claim: Claim) -> Written | None:
    """The first result for a key used before with this input; refuse it with another.
    Asked only once the writer is known to still write where the key's write went."""
    if row["input_sha256"] is None:
        return None
    if bytes(row["input_sha256"]) != claim.input_sha256:
        raise Refused(
            "IDEMPOTENCY_KEY_REUSED",
            "idempotencyKey",
            "This idempotency key was used with another input; use a new key for a new request.",
        )
    return Written(row["stored_case_id"], _event(row), replayed=True)


async def _store(conn: asyncpg.Connection, writer: Writer, claim: Claim, case_id: int, point_id: int) -> asyncpg.Record:
    row = await conn.fetchrow(
        STORE, writer.credential, claim.mutation, claim.key, claim.input_sha256, case_id, claim.hours, point_id
    )
    if claim.key is not None and not row["stored"]:
        # A duplicate committed between our snapshot and our lock: it is the first result.
        raise _key_in_use("just finished")
    return row


async def open_case(conn: asyncpg.Connection, writer: Writer, claim: Claim, intake: Intake) -> Written:
    """Open a case at a contact point of the writer's scope, numbered next in its district and year.

    A number taken outside this service (a row inserted by SQL) makes the counter's next
    one collide: the counter is moved past the numbers in use and the intake tried once more."""
    try:
        return await _open_case(conn, writer, claim, intake)
    except _NumberTaken as taken:
        with translate_errors():
            await conn.execute(RESYNC_COUNTER, taken.district_code, taken.year)
    try:
        return await _open_case(conn, writer, claim, intake)
    except _NumberTaken:
        raise WriteConflict() from None  # taken again meanwhile: a retry numbers it afresh


class _NumberTaken(Exception):
    def __init__(self, district_code: str, year: int) -> None:
        self.district_code, self.year = district_code, year


async def _open_case(conn: asyncpg.Connection, writer: Writer, claim: Claim, intake: Intake) -> Written:
    with translate_errors(), _mapped():
        async with conn.transaction():
            row = await _claimed(
                conn,
                CLAIM_INTAKE,
                writer,
                claim,
                "",
                None,
                intake.contact_point,
                intake.respondent,
                intake.opened_at,
                intake.backdate_days,
            )
            if row["point_id"] is None:
                raise Refused(
                    "UNKNOWN_CONTACT_POINT", "contactPoint", f"No contact point {_named(intake.contact_point)}."
                )
            if not row["writable"]:
                raise Refused(
                    "OUT_OF_SCOPE",
                    "contactPoint",
                    f"Contact point {_named(intake.contact_point)} is outside your scope.",
                )
            replayed = _replay(row, claim)
            if replayed is not None:
                return replayed
            if intake.respondent is not None and row["enterprise_id"] is None:
                raise Refused(
                    "UNKNOWN_ENTERPRISE", "respondent", f"No enterprise with credit code {_named(intake.respondent)}."
                )
            if row["in_future"]:
                raise Refused("OPENED_IN_FUTURE", "openedAt", "`openedAt` lies in the future.")
            if row["too_early"]:
                raise Refused(
                    "OPENED_TOO_EARLY",
                    "openedAt",
                    f"`openedAt` lies more than {intake.backdate_days} days back; older cases come in by import.",
                )
            try:
                opened = await conn.fetchrow(
                    INTAKE,
                    row["district_code"],
                    row["year"],
                    intake.kind,
                    intake.channel,
                    intake.category,
                    row["point_id"],
                    row["enterprise_id"],
                    intake.amount_claimed,
                    intake.opened_at,
                    intake.summary,
                    intake.consumer_name,
                    intake.consumer_phone,
                )
            except asyncpg.UniqueViolationError as exc:
                if exc.constraint_name != "case_number_key":
                    raise
                raise _NumberTaken(row["district_code"], row["year"]) from None
            stored = await _store(conn, writer, claim, opened["id"], row["point_id"])
            return Written(opened["id"], _event(stored))


async def step_case(conn: asyncpg.Connection, writer: Writer, claim: Claim, step: Step) -> Written:
    """Apply ``step`` to a case the writer may write, if it still has the version the caller saw."""
    with translate_errors(), _mapped():
        async with conn.transaction():
            row = await _claimed(
                conn,
                CLAIM_STEP,
                writer,
                claim,
                step.note,
                step.detail,
                step.number,
                step.kind,
                step.respondent,
                step.reopen_days,
                step.handover_to,
            )
            if row["input_sha256"] is None or not row["key_point_writable"]:
                # A replay is in scope where its write was made: the case may have been
                # handed over since, and the write did happen.
                _check_scope(row, writer, step)
            replayed = _replay(row, claim)
            if replayed is not None:
                return replayed
            _check_input(row, step)
            if _holds(row, step):
                await _store(conn, writer, claim, row["id"], row["contact_point_id"])
                return Written(row["id"], None)
            if row["version"] != step.expected_version:
                raise _stale(row["version"])
            _check_transition(row, step)
            changed = await conn.fetchval(
                STEP,
                row["id"],
                step.expected_version,
                row["next_status"],
                step.sets_recovered,
                step.amount_recovered,
                step.case_kind,
                step.category,
                step.sets_respondent,
                row["enterprise_id"],
                row["target_point_id"],
            )
            if changed is None:
                current = await conn.fetchrow(CURRENT_VERSION, row["id"], writer.credential, claim.mutation, claim.key)
                if current["key_taken"]:
                    # Our first attempt committed between our snapshot and our lock: not stale,
                    # a duplicate; the next retry replays it.
                    raise _key_in_use("just finished")
                raise _stale(current["version"])
            stored = await _store(conn, writer, claim, row["id"], row["contact_point_id"])
            return Written(row["id"], _event(stored))


def _check_scope(row: asyncpg.Record, writer: Writer, step: Step) -> None:
    """Refuse a case, or a point to hand it over to, outside the writer's scope: before a
    replay too, since a key does not outlive the scope it was used in."""
    if row["id"] is None or (not row["writable"] and writer.role is Role.CONTACT_POINT):
        raise Refused("CASE_NOT_FOUND", "number", f"No case {_named(step.number)} at your contact points.")
    if not row["writable"]:
        raise Refused("OUT_OF_SCOPE", "number", f"Case {_named(step.number)} is outside your scope.")
    if step.handover_to is not None and row["target_point_id"] is None:
        raise Refused("UNKNOWN_CONTACT_POINT", "contactPoint", f"No contact point {_named(step.handover_to)}.")
    if step.handover_to is not None and not row["target_writable"]:
        raise Refused(
            "OUT_OF_SCOPE",
            "contactPoint",
            f"Contact point {_named(step.handover_to)} is outside your scope; transfer to its district bureau instead.",
        )


def _check_input(row: asyncpg.Record, step: Step) -> None:
    """Refuse what the input names wrongly, whatever state the case is in."""
    if step.sets_respondent and step.respondent is not None and row["enterprise_id"] is None:
        raise Refused("UNKNOWN_ENTERPRISE", "respondent", f"No enterprise with credit code {_named(step.respondent)}.")
    if step.sets_recovered and step.amount_recovered is not None and row["amount_claimed"] is None:
        raise Refused("RECOVERED_WITHOUT_CLAIM", "amountRecovered", "No amount was claimed, so none can be recovered.")


def _check_transition(row: asyncpg.Record, step: Step) -> None:
    """Refuse a step the case's current state does not allow; the database would too, less
    precisely. Asked only of a writer who read the current version: one who read an older
    one is told that first, since it cannot know what the case allows now."""
    if step.kind == "handed_over" and row["target_point_id"] == row["contact_point_id"]:
        raise Refused(
            "CASE_CLOSED" if row["status"] in CLOSED else "ILLEGAL_TRANSITION",
            "contactPoint",
            f"Case {_named(step.number)} is at {_named(step.handover_to)} already.",
        )
    closed = row["status"] in CLOSED
    if closed and step.kind != "reopened":
        raise Refused(
            "CASE_CLOSED", "number", f"Case {_named(step.number)} is {row['status'].upper()}; reopen it to change it."
        )
    if step.kind is not None and row["next_status"] is None:
        raise Refused(
            "ILLEGAL_TRANSITION",
            "number",
            f"A case that is {row['status'].upper()} cannot be {step.kind.replace('_', ' ')}.",
        )
    if step.kind == "reopened" and not row["reopenable"]:
        raise Refused(
            "REOPEN_WINDOW_PASSED",
            "number",
            f"Case {_named(step.number)} closed more than {step.reopen_days} days ago.",
        )


def _holds(row: asyncpg.Record, step: Step) -> bool:
    """Whether the state ``step`` leads to holds already, so the step is a no-op."""
    if step.kind is not None:
        if not row["step_holds"]:
            return False
        return not step.sets_recovered or row["amount_recovered"] == step.amount_recovered
    if step.case_kind is None and step.category is None and not step.sets_respondent:
        return False  # a note is never a no-op
    return (
        step.case_kind in (None, row["kind"])
        and step.category in (None, row["category"])
        and (not step.sets_respondent or row["enterprise_id"] == row["respondent_enterprise_id"])
    )


def _named(code: str | None) -> str:
    """A code as the client sent it, cut short: a refusal must not echo a megabyte back."""
    code = code or ""
    return code if len(code) <= 40 else code[:39] + "…"


def _key_in_use(state: str) -> Refused:
    """A duplicate of a request with this key, which itself is fine: retrying replays it."""
    return Refused("IDEMPOTENCY_KEY_IN_USE", "idempotencyKey", f"A request with this idempotency key {state}; retry.")


def _stale(current: int) -> Refused:
    return Refused(
        "STALE_VERSION",
        "expectedVersion",
        f"The case changed since you read it: it is at version {current}. Read it again and retry.",
        current,
    )


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    """Database refusals as ``Refused``: the constraint says which code and field. The
    original error is dropped, never logged: its detail would show the row, personal data
    included."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        code, field = _REFUSALS.get(exc.constraint_name or "", ("INVALID_INPUT", None))
        raise Refused(code, field, f"The database refused the change ({code}).") from None


PURGE_EXPIRED_KEYS = """
DELETE FROM idempotency_key
 WHERE ctid = ANY (ARRAY (SELECT ctid FROM idempotency_key WHERE expires_at <= now() LIMIT $1))"""
"""One batch of expired keys: a short statement that holds few locks, however many expired."""


async def purge_expired_keys(db: Database, batch: int = 1000) -> int:
    """Delete every expired idempotency key, a batch per statement and pool turn; how many went.

    An expired key already replays nothing (the claim ignores it, the store takes it over):
    this only keeps the table from growing with every write ever made."""
    purged = 0
    while True:
        async with db.connection() as conn:
            with translate_errors():
                status = await conn.execute(PURGE_EXPIRED_KEYS, batch)
        deleted = int(status.split()[-1])
        purged += deleted
        if deleted < batch:
            return purged
