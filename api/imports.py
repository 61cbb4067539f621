"""``POST /imports``: a register imported over HTTP, for admins and case officers.

A multipart form: ``kind`` (contact-points, awards, memberships, cases, activities), ``file`` (CSV or
XLSX) and ``apply`` (``true`` to write; a dry run otherwise). The answer is the import's
report as JSON, the same as ``liaison import --json`` prints. The upload is spooled to a
temporary file by Starlette's form parser (python-multipart), so memory stays bounded; it
may hold ``LIAISON_MAX_IMPORT_BYTES``, refused by its Content-Length before a byte is read,
and counted as it is read besides. A case officer imports rows of its own districts only.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message

from db.access import Role, Viewer
from db.errors import DatabaseUnavailable
from resolvers.imports import KINDS, Actor, ImportRefused, Scope, run_import

from .admission import Refused, refusal, unavailable
from .auth import Unauthenticated

__all__ = ["post_import"]

IMPORTERS = (Role.ADMIN, Role.CASE_OFFICER)
_TRUE = {"true", "1", "yes", "on"}


async def _viewer(request: Request) -> Viewer:
    try:
        viewer = await request.app.state.authenticator.viewer(
            request.headers.get("authorization"), request.app.state.db
        )
    except Unauthenticated as exc:
        raise Refused(401, exc.code, str(exc), {"WWW-Authenticate": 'Bearer error="invalid_token"'}) from exc
    if viewer.role is Role.ANONYMOUS:
        raise Refused(401, "UNAUTHENTICATED", "Imports need an admin's or a case officer's credential.")
    if viewer.role not in IMPORTERS:
        raise Refused(403, "FORBIDDEN", f"The {viewer.role} role cannot import; admins and case officers can.")
    return viewer


def _bounded(request: Request) -> Request:
    """The request, refused at once if its Content-Length is over the limit, and otherwise
    read through a count that refuses a body longer than it said."""
    limit = request.app.state.settings.limits.max_import_bytes
    too_large = Refused(413, "PAYLOAD_TOO_LARGE", f"An import may hold at most {limit} bytes.")
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise Refused(411, "LENGTH_REQUIRED", "Send the upload with a Content-Length.")
    if int(declared) > limit:
        raise too_large
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise too_large
        return message

    return Request(request.scope, receive)


async def post_import(request: Request) -> Response:
    try:
        viewer = await _viewer(request)
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != "multipart/form-data":
            raise Refused(
                415,
                "UNSUPPORTED_MEDIA_TYPE",
                "Send the import as multipart/form-data, with the fields `kind`, `file` and `apply`.",
            )
        try:
            form = await _bounded(request).form(max_files=1, max_fields=4)
        except MultiPartException as exc:
            raise Refused(400, "BAD_REQUEST", f"The body is not a multipart form this endpoint takes: {exc}") from exc
        try:
            kind, upload = form.get("kind"), form.get("file")
            if not isinstance(kind, str) or kind not in KINDS:
                raise Refused(400, "UNKNOWN_KIND", f"`kind` must be one of {', '.join(sorted(KINDS))}.")
            if not isinstance(upload, UploadFile):
                raise Refused(400, "BAD_REQUEST", "Send the register as the multipart file field `file`.")
            apply = str(form.get("apply", "")).lower() in _TRUE
            scope = None
            if viewer.role is Role.CASE_OFFICER:
                scope = Scope(viewer.district_codes, viewer.region_codes)
            async with request.app.state.db.connection() as conn:
                report = await run_import(
                    conn,
                    kind,
                    upload.file,
                    file_name=upload.filename or "upload",
                    apply=apply,
                    actor=Actor(viewer.credential or viewer.role, viewer.role),
                    scope=scope,
                )
        finally:
            await form.close()
    except ImportRefused as refused:
        return refusal(request, Refused(422, refused.code, str(refused)))
    except DatabaseUnavailable as fault:
        return refusal(request, unavailable(fault))
    except Refused as refused:
        return refusal(request, refused)
    body = report.as_json()
    if apply and not report.applied:
        message = f"{report.rejected_rows} rows were rejected; nothing was written."
        body = {"errors": [{"message": message, "extensions": {"code": "ROWS_REJECTED"}}], "report": body}
        return JSONResponse(body, status_code=422)
    return JSONResponse({"report": body})
