"""Case intake and mediation as mutations: check the input, write, answer with a payload.

Input a client got wrong is a ``userErrors`` entry (a stable code and the input path) and
nothing is written. The consumer's name and phone are checked here and go only into the
case row: no log line, error message or event ever holds them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from graphql import FieldNode, FragmentSpreadNode, SelectionSetNode
from strawberry import Info
from strawberry.types.unset import UNSET
from strawberry.utils.str_converters import to_camel_case

from db import cases_write as w
from db.model import CASE
from db.records import CaseEvent

from .context import Context
from .private_apis import graphql_info

__all__ = [
    "IDEMPOTENCY_HEADER",
    "CaseWritten",
    "HeaderAmbiguous",
    "KeyInUse",
    "UserError",
    "case_of",
    "open_case",
    "step_case",
]

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "Idempotency-Key"
PHONE = re.compile(r"1[3-9][0-9]{9}")
NAME_LENGTH = (1, 40)
KEY_LENGTH = 255
KEY = re.compile(f"[ -~]{{1,{KEY_LENGTH}}}")
"""An idempotency key: printable ASCII, as an HTTP header carries it, in the input too."""
MAX_AMOUNT = Decimal(10) ** 10
"""Amounts are numeric(12, 2): below ten thousand million yuan, in fen."""
TEXT_LENGTH = 2000
"""Characters at most in a summary, note or reason."""


class KeyInUse(Exception):
    """Retryable: a request with the same idempotency key is still being written."""

    code = "IDEMPOTENCY_KEY_IN_USE"


class HeaderAmbiguous(Exception):
    """The Idempotency-Key header cannot say which of several mutations it keys."""

    code = "BAD_USER_INPUT"


@dataclass
class UserError:
    message: str
    code: str
    field: list[str] | None = None
    current_version: int | None = None


@dataclass
class CaseWritten:
    """A payload: ``case`` loads as the viewer may read it; ``event`` is the one just written."""

    case_id: int | None = None
    event: CaseEvent | None = None
    user_errors: list[UserError] = field(default_factory=list)


def _refused(code: str, field: str | None, message: str, current_version: int | None = None) -> CaseWritten:
    return CaseWritten(
        user_errors=[UserError(message, code, ["input", field] if field else ["input"], current_version)]
    )


def _input_hash(mutation: str, values: dict[str, Any]) -> bytes:
    """What a key's input is compared by: every field but the key itself, canonically."""
    shown = {k: (None if v is UNSET else v) for k, v in sorted(values.items()) if k != "idempotency_key"}
    text = json.dumps([mutation, shown], sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode()).digest()


def _mutations_in(info: Info[Context, None]) -> int:
    """The operation's root fields with fragments expanded, ``__typename`` aside: what one
    header key would have to cover (a field under @skip counts too: refused, not guessed)."""
    fragments = graphql_info(info).fragments

    def count(selection_set: SelectionSetNode) -> int:
        found = 0
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                found += node.name.value != "__typename"
            elif isinstance(node, FragmentSpreadNode):
                found += count(fragments[node.name.value].selection_set)
            else:
                found += count(node.selection_set)  # type: ignore[attr-defined]
        return found

    return count(info.operation.selection_set)


def _not_unicode(values: dict[str, Any]) -> CaseWritten | None:
    """A refusal naming the first input field whose text holds a lone surrogate: JSON's
    ``\\ud800`` escape decodes to one, and no UTF-8 (the database, the key's hash) can hold it."""
    for name, value in values.items():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str) and not text.isascii():
                lone = next((c for c in text if 0xD800 <= ord(c) <= 0xDFFF), None)
                if lone is not None:
                    field = to_camel_case(name)
                    message = f"`{field}` holds a lone surrogate (U+{ord(lone):04X}): text must be valid Unicode."
                    return _refused("INVALID_TEXT", field, message)
    return None


def _claim(info: Info[Context, None], mutation: str, values: dict[str, Any]) -> w.Claim | CaseWritten:
    unencodable = _not_unicode(values)
    if unencodable is not None:
        return unencodable
    key = values.get("idempotency_key")
    header = info.context.request.headers.get(IDEMPOTENCY_HEADER)
    if header is not None and key is not None and header != key:
        return _refused(
            "INVALID_IDEMPOTENCY_KEY",
            "idempotencyKey",
            f"The {IDEMPOTENCY_HEADER} header and `idempotencyKey` differ; give the key once.",
        )
    if header is not None and key is None:
        if _mutations_in(info) > 1:
            raise HeaderAmbiguous(
                f"The {IDEMPOTENCY_HEADER} header applies to a request with one mutation; "
                "give each mutation its own `idempotencyKey` instead."
            )
        key = header
    if key is not None and not KEY.fullmatch(key):
        return _refused(
            "INVALID_IDEMPOTENCY_KEY", "idempotencyKey", f"A key has 1 to {KEY_LENGTH} printable ASCII characters."
        )
    return w.Claim(mutation, key, _input_hash(mutation, values), info.context.limits.idempotency_hours)


def _text_problems(values: dict[str, Any], required: tuple[str, ...] = ()) -> CaseWritten | None:
    for name in ("summary", "note", "reason"):
        text = values.get(name)
        if name in required and (text is None or not text.strip()):
            return _refused(f"{name.upper()}_REQUIRED", name, f"Say why: `{name}` must not be empty.")
        if isinstance(text, str) and len(text) > TEXT_LENGTH:
            return _refused("TEXT_TOO_LONG", name, f"`{name}` holds at most {TEXT_LENGTH} characters.")
    return None


def _amount_problem(values: dict[str, Any], name: str, camel: str) -> CaseWritten | None:
    amount = values.get(name)
    if not isinstance(amount, Decimal):
        return None
    if not amount.is_finite() or amount >= MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        return _refused("INVALID_AMOUNT", camel, f"`{camel}` is yuan with at most two decimals, below {MAX_AMOUNT:,}.")
    if amount < 0:
        return _refused("NEGATIVE_AMOUNT", camel, f"`{camel}` must be a non-negative amount of yuan.")
    return None


async def _write(info: Info[Context, None], run: Any, claim: w.Claim) -> CaseWritten:
    context = info.context
    writer = w.Writer.of(context.viewer, context.request_id)
    try:
        async with context.db.connection() as conn:
            written = await run(conn, writer, claim)
    except w.Refused as refused:
        if refused.code == KeyInUse.code:
            raise KeyInUse(refused.message) from None
        log.info("%s refused: %s (request %s)", claim.mutation, refused.code, context.request_id)
        return _refused(refused.code, refused.field, refused.message, refused.current_version)
    if written.replayed:
        context.idempotent_replay = True
    log.info(
        "%s case %s by %s%s (request %s)",
        claim.mutation,
        written.case_id,
        writer.credential,
        " replayed" if written.replayed else "",
        context.request_id,
    )
    return CaseWritten(written.case_id, written.event)


def _a_name(name: str) -> bool:
    """A name as people have them: 1 to 40 characters once trimmed, a letter among them (a
    name of zero-width or ideographic spaces or of punctuation only is blank), no control
    character (a NUL, a tab)."""
    trimmed = name.strip()
    if not NAME_LENGTH[0] <= len(trimmed) <= NAME_LENGTH[1]:
        return False
    categories = [unicodedata.category(c) for c in trimmed]
    return any(c.startswith("L") for c in categories) and "Cc" not in categories


async def open_case(info: Info[Context, None], values: dict[str, Any]) -> CaseWritten:
    """``caseOpen``: validate the intake, then number and write it."""
    claim = _claim(info, "caseOpen", values)
    if isinstance(claim, CaseWritten):
        return claim
    name, phone = values.get("consumer_name"), values.get("consumer_phone")
    if name is not None and not _a_name(name):
        return _refused(
            "INVALID_NAME",
            "consumerName",
            "A consumer's name has 1 to 40 characters, a letter among them, and no control character.",
        )
    if phone is not None and not PHONE.fullmatch(phone):
        return _refused(
            "INVALID_PHONE", "consumerPhone", "A consumer's phone is a mainland mobile number: 11 digits, 13-19."
        )
    problem = _text_problems(values) or _amount_problem(values, "amount_claimed", "amountClaimed")
    if problem is not None:
        return problem
    intake = w.Intake(
        values["contact_point"],
        values["kind"].value,
        values["channel"].value,
        values["category"].value,
        values.get("summary") or "",
        name.strip() if name is not None else None,
        phone,
        values.get("respondent"),
        values.get("amount_claimed"),
        values.get("opened_at"),
        info.context.limits.backdate_days,
    )
    return await _write(info, lambda conn, writer, c: w.open_case(conn, writer, c, intake), claim)


STEP_KINDS = {
    "caseAccept": "accepted",
    "caseStartMediation": "mediation_started",
    "caseSettle": "settled",
    "caseCloseUnsettled": "closed_unsettled",
    "caseTransfer": "transferred",
    "caseReopen": "reopened",
    "caseAddNote": None,
    "caseCorrect": None,
}
"""Each mutation on an existing case and the lifecycle step it takes (None: no status change)."""
_REASON_REQUIRED = {"caseCloseUnsettled", "caseTransfer", "caseReopen", "caseCorrect"}


async def step_case(info: Info[Context, None], mutation: str, values: dict[str, Any]) -> CaseWritten:
    """Every mutation of an existing case: validate, then one versioned change."""
    claim = _claim(info, mutation, values)
    if isinstance(claim, CaseWritten):
        return claim
    required = ("reason",) if mutation in _REASON_REQUIRED else ("note",) if mutation == "caseAddNote" else ()
    problem = _text_problems(values, required) or _amount_problem(values, "amount_recovered", "amountRecovered")
    if problem is not None:
        return problem
    kind, detail, target_point = STEP_KINDS[mutation], None, None
    if mutation == "caseTransfer":
        to, target_point = values["to"].value, values.get("contact_point")
        if (to == "contact_point") != (target_point is not None):
            return _refused(
                "TRANSFER_TARGET", "contactPoint", "Name `contactPoint` exactly when transferring to a contact point."
            )
        if target_point is not None:
            kind = "handed_over"  # it stays open, at the receiving point
        detail = {"transfer": {"from": None, "to": {"to": to, "contactPoint": target_point}}}
    respondent = values.get("respondent", UNSET)
    unchanged = all(values.get(k) is None for k in ("kind", "category")) and respondent is UNSET
    if mutation == "caseCorrect" and unchanged:
        return _refused("NOTHING_TO_CORRECT", None, "Name the kind, category or respondent to correct.")
    amount = values.get("amount_recovered", UNSET)
    step = w.Step(
        number=values["number"],
        expected_version=values["expected_version"],
        kind=kind,
        note=values.get("note") or values.get("reason") or "",
        detail=detail,
        amount_recovered=None if amount is UNSET else amount,
        sets_recovered=amount not in (UNSET, None),
        case_kind=values["kind"].value if values.get("kind") not in (None, UNSET) else None,
        category=values["category"].value if values.get("category") not in (None, UNSET) else None,
        respondent=None if respondent is UNSET else respondent,
        sets_respondent=respondent is not UNSET,
        reopen_days=info.context.limits.reopen_days,
        handover_to=target_point,
    )
    return await _write(info, lambda conn, writer, c: w.step_case(conn, writer, c, step), claim)


async def case_of(info: Info[Context, None], case_id: int | None) -> Any:
    """The case of a payload, read as the viewer may read it (masks and all), after the write."""
    if case_id is None:
        return None
    loader = info.context.loaders.one(CASE, "id")
    with contextlib.suppress(KeyError):  # Strawberry's clear() raises for a key never loaded
        loader.clear(case_id)  # an earlier field of this operation may have read it before this write
    return await loader.load(case_id)
