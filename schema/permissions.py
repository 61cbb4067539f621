"""Field access by role: which fields a viewer may read at all.

Rows are filtered in SQL (``db.access``); these say whether a field may be asked for.
A denial is a ``FORBIDDEN`` error on that field (the rest of the response stands), and
is logged with the credential, the field and the request id, never with data.
"""

from __future__ import annotations

import logging
from typing import Any

from strawberry import Info
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension

from db.access import Role

__all__ = ["CASE_READERS", "CONSUMER_READERS", "RETURN_READERS", "Forbidden", "allowed"]

log = logging.getLogger(__name__)

RETURN_READERS = frozenset({Role.PARTNER, Role.INTERNAL, Role.CASE_OFFICER, Role.ADMIN})
"""Who may read cross-store returns (partners: those of their region)."""
CASE_READERS = RETURN_READERS | {Role.CONTACT_POINT}
"""Who may read cases (partners: those of their region; contact points: their own)."""
CONSUMER_READERS = frozenset({Role.INTERNAL, Role.CASE_OFFICER, Role.ADMIN, Role.CONTACT_POINT})
"""Who may ask for consumers' name and phone (masked except for case officers in scope and
a contact point's own cases)."""


class Forbidden(Exception):
    code = "FORBIDDEN"


class _Allowed(BasePermission):
    def __init__(self, roles: frozenset[Role], what: str, verb: str) -> None:
        self.roles, self.what = roles, what
        names = ", ".join(sorted(r.value for r in roles))
        self.message = f"{verb} {what} needs one of the roles {names}; see the README's access section."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = info.context.viewer
        if viewer.role in self.roles:
            return True
        denied = (info.path.typename, info.field_name)
        if denied in info.context.denied:
            return False  # logged once per request, however many parents it has
        info.context.denied.add(denied)
        log.warning(
            "denied %s.%s to %s (%s), request %s",
            info.path.typename,
            info.field_name,
            viewer.credential or "anonymous",
            viewer.role.value,
            info.context.request_id,
        )
        return False

    def on_unauthorized(self) -> None:
        raise Forbidden(self.message)


def allowed(roles: frozenset[Role], what: str, verb: str = "Reading") -> list[FieldExtension]:
    """Field extensions letting only ``roles`` use the field (``what`` names it in the error)."""
    return [PermissionExtension([_Allowed(roles, what, verb)], use_directives=False)]
