"""What both endpoints need to know of an execution result."""

from __future__ import annotations

from strawberry.types import ExecutionResult

__all__ = ["is_request_error"]


def is_request_error(result: ExecutionResult) -> bool:
    """Nothing was executed: errors raised before execution carry no path, and then the
    GraphQL spec says the response has no ``data`` entry at all."""
    return result.data is None and bool(result.errors) and all(error.path is None for error in result.errors or ())
