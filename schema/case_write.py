"""Case intake and mediation: one mutation per step, each with one input and a payload.

Shopify's design: named object first, nullable payload fields, ``userErrors`` for input a
person can fix; top-level errors only for authorization (``FORBIDDEN``) and system faults.
"""

from __future__ import annotations

import datetime
import decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry import Info
from strawberry.extensions import SchemaExtension
from strawberry.types.unset import UNSET

from db.access import Role
from resolvers import cases_write as writes

from .case import Case, CaseEvent
from .enums import CaseCategory, CaseChannel, CaseKind, CaseTransferTarget
from .permissions import allowed

__all__ = ["CASE_OFFICERS", "CASE_WRITERS", "CaseMutations", "IdempotentReplay"]

CASE_WRITERS = frozenset({Role.CONTACT_POINT, Role.CASE_OFFICER, Role.ADMIN})
"""Who opens cases and moves them through mediation: at their points, in their scope, anywhere."""
CASE_OFFICERS = frozenset({Role.CASE_OFFICER, Role.ADMIN})
"""Who also transfers, reopens and corrects cases."""

KEY = "Retry with the same key and input to get the first result instead of a second write (24 h)."
VERSION = "The `version` you read; a case changed since then is refused with STALE_VERSION."


@strawberry.enum(description="Why a case write did not happen. Stable: clients may branch on these.")
class CaseErrorCode(Enum):
    UNKNOWN_CONTACT_POINT = strawberry.enum_value(
        "UNKNOWN_CONTACT_POINT", description="No contact point has this code."
    )
    UNKNOWN_ENTERPRISE = strawberry.enum_value(
        "UNKNOWN_ENTERPRISE", description="No enterprise has this unified social credit code."
    )
    OUT_OF_SCOPE = strawberry.enum_value(
        "OUT_OF_SCOPE", description="The contact point or case lies outside your credential's scope."
    )
    CASE_NOT_FOUND = strawberry.enum_value("CASE_NOT_FOUND", description="No case with this number that you may write.")
    INVALID_PHONE = strawberry.enum_value(
        "INVALID_PHONE", description="Not a mainland mobile number (11 digits, 13-19)."
    )
    INVALID_NAME = strawberry.enum_value(
        "INVALID_NAME",
        description="A consumer's name has 1 to 40 characters, a letter among them, and no control character.",
    )
    NEGATIVE_AMOUNT = strawberry.enum_value("NEGATIVE_AMOUNT", description="Amounts are zero or more.")
    INVALID_AMOUNT = strawberry.enum_value(
        "INVALID_AMOUNT", description="An amount has at most two decimals and stays below 10,000,000,000."
    )
    RECOVERED_WITHOUT_CLAIM = strawberry.enum_value(
        "RECOVERED_WITHOUT_CLAIM", description="An amount recovered needs an amount claimed."
    )
    OPENED_IN_FUTURE = strawberry.enum_value("OPENED_IN_FUTURE", description="`openedAt` lies in the future.")
    OPENED_TOO_EARLY = strawberry.enum_value(
        "OPENED_TOO_EARLY",
        description="`openedAt` lies further back than the service allows (`LIAISON_BACKDATE_DAYS`, 90 by default).",
    )
    ILLEGAL_TRANSITION = strawberry.enum_value(
        "ILLEGAL_TRANSITION", description="The lifecycle does not allow this step from the case's status."
    )
    CASE_CLOSED = strawberry.enum_value(
        "CASE_CLOSED", description="The case is settled, not settled or transferred: only reopening changes it."
    )
    REOPEN_WINDOW_PASSED = strawberry.enum_value(
        "REOPEN_WINDOW_PASSED", description="The case closed longer ago than LIAISON_REOPEN_DAYS."
    )
    STALE_VERSION = strawberry.enum_value(
        "STALE_VERSION", description="The case changed since you read it; `currentVersion` says its version now."
    )
    IDEMPOTENCY_KEY_REUSED = strawberry.enum_value(
        "IDEMPOTENCY_KEY_REUSED", description="This key came before with another input; use a new key."
    )
    INVALID_IDEMPOTENCY_KEY = strawberry.enum_value(
        "INVALID_IDEMPOTENCY_KEY",
        description="A key has 1 to 255 printable ASCII characters, and the `Idempotency-Key` header and `idempotencyKey` do not differ.",
    )
    REASON_REQUIRED = strawberry.enum_value("REASON_REQUIRED", description="This change needs a `reason`.")
    NOTE_REQUIRED = strawberry.enum_value("NOTE_REQUIRED", description="A note needs text.")
    INVALID_TEXT = strawberry.enum_value(
        "INVALID_TEXT", description="A text holds a lone surrogate (a JSON escape UTF-8 cannot hold): not Unicode text."
    )
    TEXT_TOO_LONG = strawberry.enum_value(
        "TEXT_TOO_LONG", description="A summary, note or reason holds at most 2,000 characters."
    )
    TRANSFER_TARGET = strawberry.enum_value(
        "TRANSFER_TARGET", description="`contactPoint` is given exactly when transferring to a contact point."
    )
    NOTHING_TO_CORRECT = strawberry.enum_value(
        "NOTHING_TO_CORRECT", description="A correction names a kind, category or respondent."
    )
    INVALID_INPUT = strawberry.enum_value(
        "INVALID_INPUT", description="The database refused a value no other code covers."
    )


@strawberry.type(description="Something in the input that kept a case write from happening; nothing was written.")
class CaseUserError:
    message: str = strawberry.field(description="What is wrong, for a person. Never holds personal data.")
    code: CaseErrorCode = strawberry.field(description="Stable: what is wrong, for a program.")
    field: list[str] | None = strawberry.field(description="The input path at fault, e.g. `[input, consumerPhone]`.")
    current_version: int | None = strawberry.field(description="With STALE_VERSION: the case's version now.")


@strawberry.type(description="The result of a case write.")
class CasePayload:
    case_id: strawberry.Private[int | None]
    event: CaseEvent | None = strawberry.field(
        description="The event this write recorded; null when nothing was written or the state held already."
    )
    user_errors: list[CaseUserError] = strawberry.field(description="Why nothing was written, if nothing was.")

    @strawberry.field(
        description="The case as it is now, as you may read it; null when the write was refused (`userErrors`)."
    )
    async def case(self, info: Info) -> Case | None:
        return await writes.case_of(info, self.case_id)


@strawberry.input(description="A case brought to a contact point (登记).")
class CaseOpenInput:
    contact_point: str = strawberry.field(description="The contact point's code, e.g. `CP310115-00001`.")
    kind: CaseKind = strawberry.field(description="Complaint, consultation or lead.")
    channel: CaseChannel = strawberry.field(description="How it came in.")
    category: CaseCategory = strawberry.field(description="What it is about.")
    summary: str = strawberry.field(default="", description="A short description, without personal data.")
    consumer_name: str | None = strawberry.field(default=None, description="1 to 40 characters; confidential.")
    consumer_phone: str | None = strawberry.field(
        default=None, description="A mainland mobile number (11 digits, 13-19); confidential."
    )
    respondent: str | None = strawberry.field(
        default=None, description="The enterprise complained about, by unified social credit code."
    )
    amount_claimed: decimal.Decimal | None = strawberry.field(default=None, description="Yuan claimed, at least 0.")
    opened_at: datetime.datetime | None = strawberry.field(
        default=None,
        description="When it was received; now by default, never in the future nor more than 90 days back"
        " (`LIAISON_BACKDATE_DAYS`).",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=KEY)


@strawberry.input(description="Which case, at which version, and the key to retry the change with.")
class CaseRef:
    number: str = strawberry.field(description="The case's number.")
    expected_version: int = strawberry.field(description=VERSION)
    idempotency_key: str | None = strawberry.field(default=None, description=KEY)


@strawberry.input(description="A step of a case's lifecycle, with an optional note.")
class CaseStepInput(CaseRef):
    note: str = strawberry.field(default="", description="What to record with the step.")


@strawberry.input(description="Settling a case being mediated (和解成功).")
class CaseSettleInput(CaseRef):
    amount_recovered: decimal.Decimal | None = strawberry.field(
        default=None, description="Yuan recovered for the consumer; needs an amount claimed."
    )
    note: str = strawberry.field(default="", description="What to record with the settlement.")


@strawberry.input(description="A step that needs a reason: closing unsettled, reopening.")
class CaseReasonInput(CaseRef):
    reason: str = strawberry.field(description="Why; recorded in the event.")


@strawberry.input(description="Handing a case on (移交).")
class CaseTransferInput(CaseRef):
    to: CaseTransferTarget = strawberry.field(description="Where it goes.")
    contact_point: str | None = strawberry.field(
        default=None, description="With `to: CONTACT_POINT`: the receiving point's code."
    )
    reason: str = strawberry.field(description="Why; recorded in the event.")


@strawberry.input(description="A note on a case; it changes nothing else.")
class CaseAddNoteInput(CaseRef):
    note: str = strawberry.field(description="The note; never the consumer's personal data.")


@strawberry.input(description="Fixing how a case was recorded; the old values stay in the event.")
class CaseCorrectInput(CaseRef):
    reason: str = strawberry.field(description="Why the record was wrong.")
    kind: CaseKind | None = strawberry.field(default=None, description="The right kind, if it changes.")
    category: CaseCategory | None = strawberry.field(default=None, description="The right category, if it changes.")
    respondent: str | None = strawberry.field(
        default=UNSET, description="The right respondent's credit code; null for none; absent to keep it."
    )


def _values(input: Any) -> dict[str, Any]:
    return dict(vars(input))


async def _step(info: Info, mutation: str, input: Any) -> CasePayload:
    written = await writes.step_case(info, mutation, _values(input))
    return _payload(written)


def _payload(written: writes.CaseWritten) -> CasePayload:
    errors = [
        CaseUserError(message=e.message, code=CaseErrorCode(e.code), field=e.field, current_version=e.current_version)
        for e in written.user_errors
    ]
    return CasePayload(case_id=written.case_id, event=written.event, user_errors=errors)  # type: ignore[arg-type]


def _writers(what: str) -> Any:
    return allowed(CASE_WRITERS, what, verb="Writing")


def _officers(what: str) -> Any:
    return allowed(CASE_OFFICERS, what, verb="Writing")


@strawberry.type(description="Case intake and mediation.")
class CaseMutations:
    @strawberry.mutation(
        description="Open a case at a contact point; it is numbered C<district>-<year>-<seq>.",
        extensions=_writers("cases"),
    )
    async def case_open(self, info: Info, input: CaseOpenInput) -> CasePayload | None:
        return _payload(await writes.open_case(info, _values(input)))

    @strawberry.mutation(description="Accept a received case (受理).", extensions=_writers("cases"))
    async def case_accept(self, info: Info, input: CaseStepInput) -> CasePayload | None:
        return await _step(info, "caseAccept", input)

    @strawberry.mutation(description="Start mediating an accepted case (调解).", extensions=_writers("cases"))
    async def case_start_mediation(self, info: Info, input: CaseStepInput) -> CasePayload | None:
        return await _step(info, "caseStartMediation", input)

    @strawberry.mutation(description="Settle a case being mediated (和解成功).", extensions=_writers("cases"))
    async def case_settle(self, info: Info, input: CaseSettleInput) -> CasePayload | None:
        return await _step(info, "caseSettle", input)

    @strawberry.mutation(
        description="Close a case being mediated without settlement (和解不成).", extensions=_writers("cases")
    )
    async def case_close_unsettled(self, info: Info, input: CaseReasonInput) -> CasePayload | None:
        return await _step(info, "caseCloseUnsettled", input)

    @strawberry.mutation(
        description="Transfer an open case to 12315 or the district bureau, which closes it here as transferred,"
        " or hand it over to another contact point of your scope, where it is received anew, still open."
        " Officers only.",
        extensions=_officers("case transfers"),
    )
    async def case_transfer(self, info: Info, input: CaseTransferInput) -> CasePayload | None:
        return await _step(info, "caseTransfer", input)

    @strawberry.mutation(
        description="Reopen a closed case within LIAISON_REOPEN_DAYS of closing. Officers only.",
        extensions=_officers("case reopening"),
    )
    async def case_reopen(self, info: Info, input: CaseReasonInput) -> CasePayload | None:
        return await _step(info, "caseReopen", input)

    @strawberry.mutation(description="Add a note to an open case.", extensions=_writers("cases"))
    async def case_add_note(self, info: Info, input: CaseAddNoteInput) -> CasePayload | None:
        return await _step(info, "caseAddNote", input)

    @strawberry.mutation(
        description="Correct an open case's kind, category or respondent. Officers only.",
        extensions=_officers("case corrections"),
    )
    async def case_correct(self, info: Info, input: CaseCorrectInput) -> CasePayload | None:
        return await _step(info, "caseCorrect", input)


class IdempotentReplay(SchemaExtension):
    """``extensions.idempotentReplay: true`` on a response that repeats a key's first result."""

    def get_results(self) -> dict[str, Any]:
        return {"idempotentReplay": True} if getattr(self.execution_context.context, "idempotent_replay", False) else {}
