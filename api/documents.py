"""Where a request's document comes from: its text, a stored document, or a persisted query.

- Apollo's automatic persisted queries: ``extensions.persistedQuery.sha256Hash`` alone runs
  a document registered before (``PERSISTED_QUERY_NOT_FOUND`` asks the client to send it
  once with its text); text plus a matching hash registers it in this process, within
  ``REGISTERED_BUDGET`` bytes of texts.
- Trusted documents: the hash of a saved operation (or ``documentId``, ``sha256:<hex>``)
  runs that operation's document.
- Trusted-only mode (``LIAISON_TRUSTED_DOCUMENTS_ONLY``, or a credential marked so): only
  saved operations run; any other text, and APQ registration, is refused with
  ``TRUSTED_DOCUMENT_REQUIRED``.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from graphql import GraphQLError

from db import saved
from db.pool import Database
from schema.caches import BoundedCache

__all__ = ["NOT_FOUND", "REGISTERED_BUDGET", "TRUSTED_REQUIRED", "Documents"]

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
TRUSTED_REQUIRED = "TRUSTED_DOCUMENT_REQUIRED"
_HASH = re.compile(r"[0-9a-f]{64}")

REGISTERED_BUDGET = 4 * 2**20
"""Bytes of APQ texts kept per process: a frontend registers its few documents of a few KB
each; strangers' registrations (up to the body limit each) cannot hold more than this."""


class Documents:
    def __init__(self, trusted_only: bool, registered_budget: int = REGISTERED_BUDGET) -> None:
        self.trusted_only = trusted_only
        self.registered: BoundedCache[str] = BoundedCache(registered_budget)
        """APQ registrations by hash, per process (least recently used go first)."""
        self._saved: dict[str, str] = {}
        """Saved documents by hash: immutable, so never stale."""

    async def saved_text(self, db: Database, sha256: str) -> str | None:
        text = self._saved.get(sha256)
        if text is None:
            text = await saved.find_by_hash(db, sha256)
            if text is not None:
                self._saved[sha256] = text
        return text

    async def resolve(
        self, query: str | None, extensions: dict[str, Any] | None, db: Database, trusted_only: bool
    ) -> str | GraphQLError | None:
        """The document text to run, or the error to answer with; None: let GraphQL say it is missing."""
        trusted_only = trusted_only or self.trusted_only
        persisted = (extensions or {}).get("persistedQuery")
        sha = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        if persisted is not None and not (isinstance(sha, str) and _HASH.fullmatch(sha)):
            return _error("BAD_USER_INPUT", "`extensions.persistedQuery.sha256Hash` must be 64 lowercase hex digits.")
        if sha is None:
            if query is None or not trusted_only:
                return query
            if await self.saved_text(db, saved.document_sha256(query)) is not None:
                return query
            return _error(TRUSTED_REQUIRED, "This service (or credential) runs only saved operations; send their hash.")
        if query is not None:
            if saved.document_sha256(query) != sha:
                return _error("BAD_USER_INPUT", "`sha256Hash` is not the SHA-256 of the query's UTF-8 text.")
            if await self.saved_text(db, sha) is None:
                if trusted_only:
                    return _error(TRUSTED_REQUIRED, "Only saved operations run here; this document is not one.")
                self.registered.put(query, sys.getsizeof(query), sha)
            return query
        text = await self.saved_text(db, sha)
        if text is None and not trusted_only:
            text = self.registered.get(sha)
        if text is None:
            return _error(NOT_FOUND, "PersistedQueryNotFound")
        return text


def _error(code: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})
