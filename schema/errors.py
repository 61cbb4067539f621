"""Errors as clients see them: a message a person can act on and a stable ``code``.

An exception raised on purpose carries its ``code`` (e.g. ``DatabaseUnavailable``,
``BadUserInput``); the code goes into ``extensions``. Anything else is masked: no stack
trace, SQL or path ever leaves. Syntax and validation errors have no original exception
and keep their text.
"""

from __future__ import annotations

import logging
import re

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors
from strawberry.relay.types import GlobalIDValueError, InvalidGlobalIDError

__all__ = ["BAD_USER_INPUT", "INTERNAL", "PARSE_FAILED", "VALIDATION_FAILED", "ClientErrors", "without_values"]

log = logging.getLogger(__name__)

BAD_USER_INPUT = "BAD_USER_INPUT"
TOO_MANY_TOKENS = "TOO_MANY_TOKENS"
_TOO_MANY_TOKENS = "Document contains more than"  # graphql-core's parser, at parse_options' max_tokens
INTERNAL = "INTERNAL_SERVER_ERROR"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"

# Strawberry's own errors for arguments a client got wrong.
_BAD_INPUT_ERRORS = (GlobalIDValueError, InvalidGlobalIDError)

# graphql-core's messages for argument and variable values of the wrong type or enum:
# the document is valid GraphQL, the client's value is not.
_BAD_VALUE = re.compile(
    r"cannot represent|does not exist in|got invalid value|has invalid value|Expected value of type|of required type",
    re.IGNORECASE,
)


# graphql-core words a value that does not coerce with the value in it (a whole input
# object after "found:"): a case's input holds the consumer's name and phone, which must
# reach neither the log nor a response. The path and the reason stay.
_ECHOED_VALUES = (
    (re.compile(r",? found:? .*\Z", re.S), "."),
    (re.compile(r"\bValue .*? does not exist in", re.S), "The value does not exist in"),
    (re.compile(r"(cannot represent[^:]*): .*\Z", re.S), r"\1."),
    (re.compile(r"(got invalid value) .*?(?=; |\Z)", re.S), r"\1"),
)


def without_values(message: str) -> str:
    """A coercion error's message without the value that failed to coerce."""
    for pattern, replacement in _ECHOED_VALUES:
        message = pattern.sub(replacement, message)
    return message


def _code_of(error: GraphQLError) -> str | None:
    original = error.original_error
    if original is None and error.extensions and isinstance(error.extensions.get("code"), str):
        return error.extensions["code"]  # refused on purpose before execution (schema.limits)
    if isinstance(original, _BAD_INPUT_ERRORS):
        return BAD_USER_INPUT
    if isinstance(original, NotImplementedError) and _field_name(error) in ("node", "nodes"):
        return BAD_USER_INPUT  # a global id naming the Node interface itself: Strawberry has no resolver
    if isinstance(original, GraphQLError) and error.path is not None:
        if _BAD_VALUE.search(original.message) and original.message.startswith("Argument '"):
            return BAD_USER_INPUT  # a directive's argument under this field, refused while collecting its fields
        return None  # a value the server produced does not fit the schema: the server's fault
    if original is None or isinstance(original, GraphQLError):  # graphql-core's own, e.g. variable coercion
        if error.message.startswith("Syntax Error"):
            return TOO_MANY_TOKENS if _TOO_MANY_TOKENS in error.message else PARSE_FAILED
        return BAD_USER_INPUT if _BAD_VALUE.search(error.message) else VALIDATION_FAILED
    code = getattr(original, "code", None)
    return code if isinstance(code, str) else None


def _field_name(error: GraphQLError) -> str | None:
    """The schema's name of the field an error is at (its path holds aliases)."""
    node = error.nodes[0] if error.nodes else None
    name = getattr(node, "name", None)
    return getattr(name, "value", None)


class ClientErrors(MaskErrors):
    """Strawberry's MaskErrors, keeping the errors we raise on purpose, coding every error."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._should_mask, error_message="Internal server error.")

    @staticmethod
    def _should_mask(error: GraphQLError) -> bool:
        return _code_of(error) is None

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = getattr(self.execution_context.context, "request_id", None)
        log.error("internal error at %s (request %s)", error.path, request_id, exc_info=error.original_error)
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL, "requestId": request_id}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = []
        for error in errors:
            code = _code_of(error)
            record = getattr(self.execution_context.context, "record", None)
            if record is not None:
                record.errors.append(code or INTERNAL)
            if code is None:
                processed.append(self.anonymise_error(error))
                continue
            if isinstance(error.original_error, _BAD_INPUT_ERRORS):
                error.message = str(error.original_error).split("\n", 1)[0]
            elif isinstance(error.original_error, NotImplementedError):
                error.message = "That id names no type of object this API gives out."
            elif code == BAD_USER_INPUT and error.message.startswith("Variable '$"):
                error.message = without_values(error.message)  # a literal is the document's own text
            error.extensions = {**(error.extensions or {}), "code": code}
            processed.append(error)
        return processed
