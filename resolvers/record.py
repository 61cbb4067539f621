"""What one request did, for its metrics and its log line.

Filled by the layers that learn each fact (admission: the refusal's code; the schema's
extensions: the operation, the path that served it, its cost, its errors' codes), read once
by ``api.telemetry`` when the response is sent. It holds names, codes and numbers only:
never a value from the request, so nothing personal can reach a metric or a log.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RequestRecord"]


@dataclass
class RequestRecord:
    operation: str | None = None
    """The first operation's name, as the document or the request names it."""
    operation_type: str | None = None
    """``query``, ``mutation`` or ``subscription``, once the document is parsed."""
    operations: int = 0
    """Operations that reached execution: more than one in a batch."""
    execution: str | None = None
    """The path that served it: ``compiled``, ``fast_lane``, ``dataloader``, and in verify
    mode ``verified`` or ``mismatch``; None when nothing ran."""
    cost: int = 0
    """Budget points charged, for the operation and for parsing a document new to the process."""
    errors: list[str] = field(default_factory=list)
    """The ``code`` of each error answered, at the HTTP level or in the GraphQL response."""
    saved_query: str | None = None
    """The saved query's name, for ``/queries/{name}``."""

    def started(self, operation: str | None, operation_type: str | None) -> None:
        """An operation begins to run; a batch's first one names the request."""
        if self.operations == 0:
            self.operation, self.operation_type = operation, operation_type
        self.operations += 1
