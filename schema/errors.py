"""Errors as clients see them: a message a person can act on and a stable ``code``.

An exception raised on purpose carries its ``code`` (e.g. ``DatabaseUnavailable``); the
code goes into ``extensions``. Anything else is masked: no stack trace, SQL or path ever
leaves. Syntax and validation errors have no original exception and keep their text.
"""

from __future__ import annotations

from graphql.error import GraphQLError
from strawberry.extensions import MaskErrors

__all__ = ["INTERNAL", "VALIDATION_FAILED", "ClientErrors"]

INTERNAL = "INTERNAL_SERVER_ERROR"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


def _code_of(error: GraphQLError) -> str | None:
    code = getattr(error.original_error, "code", None)
    return code if isinstance(code, str) else None


class ClientErrors(MaskErrors):
    """Strawberry's MaskErrors, keeping the errors we raise on purpose, coding every error."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=self._should_mask, error_message="Internal server error.")

    @staticmethod
    def _should_mask(error: GraphQLError) -> bool:
        return error.original_error is not None and _code_of(error) is None

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": INTERNAL}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = super()._process_errors(errors)
        for error in processed:
            if not (error.extensions or {}).get("code"):
                code = _code_of(error) or VALIDATION_FAILED
                error.extensions = {**(error.extensions or {}), "code": code}
        return processed
