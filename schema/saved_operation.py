"""Saved operations as admins manage them over GraphQL (the command line does the same)."""

from __future__ import annotations

import datetime

import strawberry
from strawberry import Info

from db.access import Role
from resolvers import saved

from .permissions import allowed

__all__ = ["ADMINS", "SavedOperation", "SavedOperationMutations", "saved_operations"]

ADMINS = frozenset({Role.ADMIN})


@strawberry.type(description="A saved, immutable version of a named query, run by name at `/queries/{name}`.")
class SavedOperation:
    name: str = strawberry.field(description="The operation's name, which tools run it by.")
    version: int = strawberry.field(description="1, 2, ...: a new document is a new version.")
    document: str = strawberry.field(description="The GraphQL document.")
    sha256: str = strawberry.field(description="SHA-256 of the document: its persisted-query hash.")
    description: str = strawberry.field(description="What it is for.")
    owner: str = strawberry.field(description="Who answers for it.")
    created_at: datetime.datetime = strawberry.field(description="When this version was saved (UTC).")
    deprecated_at: datetime.datetime | None = strawberry.field(description="When it was deprecated, if it was.")


@strawberry.type(description="Something in the input that kept the mutation from happening.")
class UserError:
    message: str = strawberry.field(description="What is wrong, for a person.")
    code: str = strawberry.field(description="Stable: INVALID_DOCUMENT, NOT_FOUND.")
    field: list[str] | None = strawberry.field(description="The input field at fault.")


@strawberry.type(description="The result of `savedOperationSave`.")
class SavedOperationSavePayload:
    saved_operation: SavedOperation | None = strawberry.field(description="The version saved (or found unchanged).")
    created: bool = strawberry.field(description="False when the document was already the latest version.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was saved, if nothing was.")


@strawberry.type(description="The result of `savedOperationDeprecate`.")
class SavedOperationDeprecatePayload:
    saved_operation: SavedOperation | None = strawberry.field(description="The version deprecated.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was deprecated, if nothing was.")


@strawberry.type(description="The result of `savedOperationRestore`.")
class SavedOperationRestorePayload:
    saved_operation: SavedOperation | None = strawberry.field(description="The version restored.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was restored, if nothing was.")


@strawberry.input(description="A document to save as the next version of its operation's name.")
class SavedOperationSaveInput:
    document: str = strawberry.field(description="One named query that validates against the schema.")
    description: str = strawberry.field(default="", description="What it is for.")


@strawberry.input(description="A version to deprecate: it stays runnable when pinned, but is no longer the default.")
class SavedOperationDeprecateInput:
    name: str = strawberry.field(description="The saved query's name.")
    version: int = strawberry.field(description="The version.")


@strawberry.input(
    description="A deprecated version to make active again (the default, if it is the latest). Refused if it no"
    " longer validates against the schema."
)
class SavedOperationRestoreInput:
    name: str = strawberry.field(description="The saved query's name.")
    version: int = strawberry.field(description="The version.")


@strawberry.type(description="Managing saved queries (the admin role).")
class SavedOperationMutations:
    @strawberry.mutation(
        description="Save a document as the next version of its name. Admins only.",
        extensions=allowed(ADMINS, "saved queries", verb="Changing"),
    )
    async def saved_operation_save(
        self, info: Info, input: SavedOperationSaveInput
    ) -> SavedOperationSavePayload | None:
        return await saved.save_operation(info, input.document, input.description)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Deprecate a version of a saved query. Admins only.",
        extensions=allowed(ADMINS, "saved queries", verb="Changing"),
    )
    async def saved_operation_deprecate(
        self, info: Info, input: SavedOperationDeprecateInput
    ) -> SavedOperationDeprecatePayload | None:
        return await saved.deprecate_operation(info, input.name, input.version)  # type: ignore[return-value]

    @strawberry.mutation(
        description="Restore a deprecated version of a saved query, undoing its deprecation. Admins only.",
        extensions=allowed(ADMINS, "saved queries", verb="Changing"),
    )
    async def saved_operation_restore(
        self, info: Info, input: SavedOperationRestoreInput
    ) -> SavedOperationRestorePayload | None:
        return await saved.restore_operation(info, input.name, input.version)  # type: ignore[return-value]


async def saved_operations(info: Info, include_deprecated: bool = False) -> list[SavedOperation] | None:
    return await saved.list_saved(info, include_deprecated)
