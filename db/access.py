"""Who may see which rows and columns, as SQL: the viewer's roles and scope as parameters.

Row access is a ``Predicate`` added to every statement over a table, so a loader never
holds a row its viewer may not see, and the operation compiler can reuse the same
functions. Confidential columns (the consumer's name and phone) are rendered as the
expression the viewer is entitled to: the value, its mask, or NULL.

Masks (documented in the README): a name keeps its first character and one star, whatever
its length (``张三``, ``张三丰`` → ``张*``), a mobile number its first three and last four
digits (``13812341234`` → ``138****1234``). A missing name or number stays NULL.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .model import CASE, CROSS_STORE_RETURN, Table
from .sql import Params, Predicate

__all__ = [
    "ANONYMOUS",
    "SCOPED_ROLES",
    "Role",
    "Viewer",
    "column_sql",
    "reads_every_row",
    "row_predicates",
    "scope_problem",
    "select_list",
]


class Role(StrEnum):
    ANONYMOUS = "anonymous"
    """The public directory: contact points, programmes, enterprises, statistics."""
    PARTNER = "partner"
    """A partner province: adds cross-store returns and cases involving its region."""
    INTERNAL = "internal"
    """Staff and internal tools: all rows, consumers' data masked."""
    CASE_OFFICER = "case_officer"
    """As internal, and consumers' data in full at the contact points of its scope."""
    ADMIN = "admin"
    """As internal, and managing keys and saved queries."""
    CONTACT_POINT = "contact_point"
    """A contact point's staff: its own points' cases in full, otherwise what anonymous reads."""


SCOPED_ROLES = frozenset({Role.PARTNER, Role.CASE_OFFICER})
"""Roles whose credentials must name a region or districts."""


def scope_problem(
    role: Role,
    region_codes: tuple[str, ...],
    district_codes: tuple[str, ...],
    contact_point_codes: tuple[str, ...] = (),
) -> str | None:
    """Why a credential for ``role`` cannot have this scope, or None if it can.

    Partners see their own region, so they name exactly one; case officers read consumers'
    data where they work, so they name districts or regions; a contact point's staff name
    their points and nothing else; other roles see the network.
    """
    if role is Role.ANONYMOUS:
        return "the anonymous role needs no credential"
    if role is Role.CONTACT_POINT and not contact_point_codes:
        return "the contact_point role needs the codes of the contact points its staff work at"
    if role is not Role.CONTACT_POINT and contact_point_codes:
        return f"only the contact_point role names contact points; the {role} role does not"
    if role is Role.CONTACT_POINT and (region_codes or district_codes):
        return "a contact point's staff name their points, not regions or districts"
    if role is Role.PARTNER and (len(region_codes) != 1 or district_codes):
        return "a partner names exactly one region and no districts"
    if role is Role.CASE_OFFICER and not (region_codes or district_codes):
        return "a case officer names its districts or regions"
    if role not in SCOPED_ROLES and (region_codes or district_codes):
        return f"the {role} role sees the whole network and takes no regions or districts"
    return None


@dataclass(frozen=True)
class Viewer:
    """Who is asking: a role, the credential (for logs), and the scope it was given."""

    role: Role
    credential: str | None = None
    """The key's public id or the token's subject; never a secret."""
    region_codes: tuple[str, ...] = ()
    district_codes: tuple[str, ...] = ()
    trusted_only: bool = False
    """Only stored documents (saved operations, by name or hash) may run for this viewer."""
    contact_point_codes: tuple[str, ...] = ()
    """The contact points a ``contact_point`` viewer works at."""


ANONYMOUS = Viewer(Role.ANONYMOUS)

_NOTHING = (Predicate("false"),)

_STORE_IN_REGION = (
    "EXISTS (SELECT 1 FROM store s JOIN district d ON d.code = s.district_code"
    " WHERE s.id IN (t.purchase_store_id, t.return_store_id) AND d.region_code = ANY({}))"
)
_CASE_IN_REGION = (
    "(EXISTS (SELECT 1 FROM contact_point c JOIN district d ON d.code = c.district_code"
    " WHERE c.id = t.contact_point_id AND d.region_code = ANY({}))"
    " OR EXISTS (SELECT 1 FROM enterprise e JOIN district d ON d.code = e.district_code"
    " WHERE e.id = t.respondent_enterprise_id AND d.region_code = ANY({})))"
)
_CASE_AT_POINTS = "EXISTS (SELECT 1 FROM contact_point c WHERE c.id = t.contact_point_id AND c.code = ANY({}))"
_CASE_IN_SCOPE = (
    "EXISTS (SELECT 1 FROM contact_point c JOIN district d ON d.code = c.district_code"
    " WHERE c.id = t.contact_point_id AND (c.district_code = ANY({}) OR d.region_code = ANY({})))"
)


def row_predicates(table: Table, viewer: Viewer) -> tuple[Predicate, ...]:
    """The conditions a row of ``table`` must meet for ``viewer`` to see it."""
    if table not in (CASE, CROSS_STORE_RETURN) or viewer.role in (Role.INTERNAL, Role.CASE_OFFICER, Role.ADMIN):
        return ()
    if viewer.role is Role.CONTACT_POINT and table is CASE:
        return (Predicate(_CASE_AT_POINTS, (tuple(viewer.contact_point_codes),), ("text[]",)),)
    if viewer.role is not Role.PARTNER:
        return _NOTHING
    regions = tuple(viewer.region_codes)
    if table is CASE:
        return (Predicate(_CASE_IN_REGION, (regions, regions), ("text[]", "text[]")),)
    return (Predicate(_STORE_IN_REGION, (regions,), ("text[]",)),)


def reads_every_row(table: Table, viewer: Viewer) -> bool:
    """Whether ``viewer`` sees every row of ``table``: figures over rows it may not all read
    are held to the public minimum period (``resolvers.stats``), whatever the role."""
    return not row_predicates(table, viewer)


def _masked_name(column: str) -> str:
    # One star whatever the length, so the mask does not tell it; a one-character name, all star.
    # No name stays NULL: a star there would pass for a one-character name.
    return f"CASE WHEN char_length({column}) > 1 THEN left({column}, 1) || '*' WHEN {column} IS NOT NULL THEN '*' END"


def _masked_phone(column: str) -> str:
    # NULL when there is no number: || gives NULL with a NULL operand.
    return f"left({column}, 3) || '****' || right({column}, 4)"


_PERSONAL = {"consumer_name": _masked_name, "consumer_phone": _masked_phone}


def column_sql(table: Table, column: str, viewer: Viewer, params: Params) -> str:
    """``column`` of ``table`` over alias ``t``, as ``viewer`` may read it: the value, its mask, or NULL."""
    mask = _PERSONAL.get(column) if table is CASE else None
    if mask is None:
        return f't."{column}"'
    if viewer.role in (Role.ANONYMOUS, Role.PARTNER):
        return "NULL::text"
    if viewer.role is Role.CONTACT_POINT:
        return f't."{column}"'  # its rows are its own points' cases only (row_predicates)
    if viewer.role is Role.CASE_OFFICER:
        scope = (viewer.district_codes, viewer.region_codes)
        in_scope = Predicate(_CASE_IN_SCOPE, scope, ("text[]", "text[]")).render(params)
        return f"CASE WHEN {in_scope} THEN t.{column} ELSE {mask('t.' + column)} END"
    return mask("t." + column)


def select_list(table: Table, viewer: Viewer, params: Params) -> str:
    """``table``'s columns over alias ``t``, each confidential one as ``viewer`` may read it."""
    if table is not CASE:
        return table.select_list()
    columns = []
    for column in table.columns:
        value = column_sql(table, column, viewer, params)
        columns.append(value if value == f't."{column}"' else f"{value} AS {column}")
    return ", ".join(columns)
