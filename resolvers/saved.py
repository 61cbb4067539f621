"""Managing saved operations over GraphQL (admins): save a version, deprecate or restore one, list them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from strawberry import Info

from db import saved

from .context import Context
from .documents import check_document
from .private_apis import graphql_schema

__all__ = ["Saved", "Switched", "UserError", "deprecate_operation", "list_saved", "restore_operation", "save_operation"]


@dataclass
class UserError:
    message: str
    code: str
    field: list[str] | None = None


@dataclass
class Saved:
    saved_operation: saved.SavedOperation | None = None
    created: bool = False
    user_errors: list[UserError] = field(default_factory=list)


@dataclass
class Switched:
    """A version deprecated or restored, or why not."""

    saved_operation: saved.SavedOperation | None = None
    user_errors: list[UserError] = field(default_factory=list)


async def save_operation(info: Info[Context, None], document: str, description: str) -> Saved:
    checked = check_document(document, graphql_schema(info.schema))
    if not checked.ok or checked.operation_name is None:
        return Saved(user_errors=[UserError(e, "INVALID_DOCUMENT", ["document"]) for e in checked.errors])
    viewer = info.context.viewer
    async with info.context.db.connection() as conn:
        operation, created = await saved.save(
            conn, checked.operation_name, document, checked.operation_name, viewer.credential or "admin", description
        )
    return Saved(operation, created)


async def deprecate_operation(info: Info[Context, None], name: str, version: int) -> Switched:
    db = info.context.db
    if not await saved.deprecate(db, name, version):
        message = f"No active version {version} of {name!r}."
        return Switched(user_errors=[UserError(message, "NOT_FOUND", ["name", "version"])])
    return Switched(await saved.find(db, name, version))


async def restore_operation(info: Info[Context, None], name: str, version: int) -> Switched:
    """Undo a deprecation, unless the schema has moved past the document: it would fail every run."""
    db = info.context.db
    not_found = Switched(
        user_errors=[UserError(f"No deprecated version {version} of {name!r}.", "NOT_FOUND", ["name", "version"])]
    )
    found = await saved.find(db, name, version)
    if found is None or found.deprecated_at is None:
        return not_found
    checked = check_document(found.document, graphql_schema(info.schema))
    if not checked.ok:
        return Switched(user_errors=[UserError(e, "INVALID_DOCUMENT", ["name", "version"]) for e in checked.errors])
    if not await saved.restore(db, name, version):  # restored by someone else meanwhile
        return not_found
    return Switched(await saved.find(db, name, version))


async def list_saved(info: Info[Context, None], include_deprecated: bool) -> list[Any]:
    db = info.context.db
    return await (saved.list_operations(db) if include_deprecated else saved.active_operations(db))
