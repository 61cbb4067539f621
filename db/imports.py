"""Imports in SQL: rows staged in a temporary table, checked, compared and written at once.

An import runs in one transaction: ``begin`` takes the kind's lock and makes
``import_rows`` (one column per field, after ``row_number``); ``stage`` copies parsed rows
in; ``finish`` finds the rows the database refuses (duplicate keys, unknown codes, a row
outside the caller's districts, a case's lifecycle), resolves the rest into
``import_incoming_<n>`` (one per target table: the row as it would be written, and whether
one exists) and counts what would be created, updated and left unchanged; ``apply`` writes
them and the history row. A dry run rolls the transaction back.

Upserts go by natural key. An empty optional cell keeps what the database holds, so an
import never erases and the same file twice changes nothing the second time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg

__all__ = ["KINDS", "Actor", "Counts", "Refusals", "RefusedByDatabase", "Scope", "apply", "begin", "finish", "stage"]


class RefusedByDatabase(Exception):
    """A rule only the database holds refused the rows (a constraint or trigger); nothing was written."""

    code = "REFUSED_BY_DATABASE"


@contextlib.contextmanager
def _refusals() -> Iterator[None]:
    """A constraint's or a trigger's refusal, by its message: never the row's values (its DETAIL)."""
    try:
        yield
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
        raise RefusedByDatabase(
            f"The database refused the rows: {exc.args[0] if exc.args else exc.sqlstate}."
        ) from None


@dataclass(frozen=True)
class Actor:
    """Who imports: ``cli:<user>``, an API key's id or a token's subject, and the role."""

    name: str
    role: str


@dataclass(frozen=True)
class Scope:
    """The districts and regions whose rows the caller may import; None: the whole network."""

    district_codes: tuple[str, ...] = ()
    region_codes: tuple[str, ...] = ()


@dataclass
class Counts:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass(frozen=True)
class Target:
    """One table an import writes: ``incoming`` selects ``row_number``, ``found``, ``target_id``
    (or NULL) and ``columns`` from ``import_rows s``; ``match`` joins a table row ``t`` to its
    incoming row ``i``."""

    table: str
    columns: tuple[str, ...]
    incoming: str
    match: str = "t.id = i.target_id"


@dataclass(frozen=True)
class KindSql:
    staging: tuple[tuple[str, str], ...]
    """The fields' columns in ``import_rows``, in the kind's field order, with their types."""
    key: str
    """The natural key over ``import_rows s``, for duplicates within the file."""
    key_field: str
    targets: tuple[Target, ...]
    checks: tuple[str, ...]
    """Each selects (row_number, field, reason) over ``import_rows s`` (and ``import_incoming_0 i``)."""
    district: str
    """The district a staged row ``s`` belongs to, for the caller's scope."""
    before: tuple[str, ...] = ()
    """Statements before the inserts, when applying: rows the incoming ones refer to."""
    after: tuple[str, ...] = ()
    """Statements after the inserts and before the updates ($1 actor, $2 role)."""


def _unknown(field: str, column: str, table: str, key: str, what: str) -> str:
    return (
        f"SELECT s.row_number, '{field}', '{what} ' || s.{column} || ' is not known'"
        f" FROM import_rows s WHERE s.{column} IS NOT NULL"
        f" AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.{key} = s.{column})"
    )


_POINT_DISTRICT = "(SELECT p.district_code FROM contact_point p WHERE p.code = s.contact_point_code)"

CONTACT_POINTS = KindSql(
    staging=(
        ("code", "text"),
        ("name", "text"),
        ("name_en", "text"),
        ("district_code", "text"),
        ("street_town", "text"),
        ("host_kind", "text"),
        ("address", "text"),
        ("established_on", "date"),
        ("uses_wecom", "boolean"),
        ("has_online_mediation", "boolean"),
    ),
    key="s.code",
    key_field="code",
    targets=(
        Target(
            "contact_point",
            (
                "code",
                "name",
                "name_en",
                "district_code",
                "street_id",
                "host_kind",
                "address",
                "established_on",
                "uses_wecom",
                "has_online_mediation",
            ),
            """SELECT s.row_number, t.id IS NOT NULL AS found, t.id AS target_id, s.code, s.name,
                      coalesce(s.name_en, t.name_en) AS name_en, s.district_code, st.id AS street_id, s.host_kind,
                      s.address, s.established_on, coalesce(s.uses_wecom, t.uses_wecom, false) AS uses_wecom,
                      coalesce(s.has_online_mediation, t.has_online_mediation, false) AS has_online_mediation,
                      s.street_town
                 FROM import_rows s LEFT JOIN contact_point t ON t.code = s.code
                 LEFT JOIN street st ON st.district_code = s.district_code AND st.name = s.street_town""",
        ),
    ),
    before=(
        # A street or town the register names for the first time becomes a row of its own.
        """INSERT INTO street (district_code, name)
           SELECT DISTINCT district_code, street_town FROM import_incoming_0 WHERE street_id IS NULL
           ORDER BY 1, 2 ON CONFLICT DO NOTHING""",
        """UPDATE import_incoming_0 i SET street_id = st.id FROM street st
            WHERE i.street_id IS NULL AND st.district_code = i.district_code AND st.name = i.street_town""",
    ),
    checks=(_unknown("district_code", "district_code", "district", "code", "district code"),),
    district="s.district_code",
)

_STARS = "s.award IN ('4', '5')"

AWARDS = KindSql(
    staging=(("contact_point_code", "text"), ("award", "text"), ("batch", "smallint"), ("awarded_on", "date")),
    key=f"s.contact_point_code, CASE WHEN {_STARS} THEN s.batch::text ELSE s.award END",
    key_field="contact_point_code",
    targets=(
        # An upgrade (a five-star award after the point's four-star one) points at the award
        # it replaces; links to awards of this same file are made in ``after``.
        Target(
            "star_award",
            ("contact_point_id", "batch", "stars", "awarded_on", "upgraded_from_id"),
            f"""SELECT s.row_number, t.id IS NOT NULL AS found, t.id AS target_id, p.id AS contact_point_id,
                       s.batch, s.award::smallint AS stars, coalesce(s.awarded_on, b.announced_on) AS awarded_on,
                       CASE WHEN s.award = '5' THEN (
                           SELECT CASE WHEN prev.stars = 4 THEN prev.id END FROM star_award prev
                            WHERE prev.contact_point_id = p.id AND prev.batch < s.batch
                            ORDER BY prev.batch DESC LIMIT 1) END AS upgraded_from_id
                  FROM import_rows s JOIN contact_point p ON p.code = s.contact_point_code
                  JOIN star_batch b ON b.number = s.batch
                  LEFT JOIN star_award t ON t.contact_point_id = p.id AND t.batch = s.batch
                 WHERE {_STARS}""",
        ),
        Target(
            "contact_point_honour",
            ("contact_point_id", "honour", "awarded_on"),
            f"""SELECT s.row_number, t.contact_point_id IS NOT NULL AS found, NULL::bigint AS target_id,
                       p.id AS contact_point_id, s.award AS honour, s.awarded_on
                  FROM import_rows s JOIN contact_point p ON p.code = s.contact_point_code
                  LEFT JOIN contact_point_honour t ON t.contact_point_id = p.id AND t.honour = s.award
                 WHERE NOT {_STARS}""",
            match="t.contact_point_id = i.contact_point_id AND t.honour = i.honour",
        ),
    ),
    checks=(
        _unknown("contact_point_code", "contact_point_code", "contact_point", "code", "contact point"),
        _unknown("batch", "batch", "star_batch", "number", "batch"),
    ),
    district=_POINT_DISTRICT,
    after=(
        """UPDATE star_award a SET upgraded_from_id = prev.id
             FROM import_incoming_0 i, LATERAL (
                  SELECT x.id, x.stars FROM star_award x
                   WHERE x.contact_point_id = i.contact_point_id AND x.batch < i.batch
                   ORDER BY x.batch DESC LIMIT 1) prev
            WHERE a.contact_point_id = i.contact_point_id AND a.batch = i.batch AND NOT i.found
              AND a.stars = 5 AND a.upgraded_from_id IS NULL AND prev.stars = 4""",
    ),
)

MEMBERSHIPS = KindSql(
    staging=(
        ("programme_code", "text"),
        ("contact_point_code", "text"),
        ("credit_code", "text"),
        ("level", "text"),
        ("odr_class", "text"),
        ("committed_days", "smallint"),
        ("started_on", "date"),
        ("ended_on", "date"),
    ),
    key="s.programme_code, s.contact_point_code, s.credit_code, s.started_on",
    key_field="programme_code",
    targets=(
        Target(
            "programme_membership",
            (
                "programme_code",
                "contact_point_id",
                "enterprise_id",
                "level",
                "odr_class",
                "committed_days",
                "started_on",
                "ended_on",
            ),
            """SELECT s.row_number, t.id IS NOT NULL AS found, t.id AS target_id, s.programme_code,
                      p.id AS contact_point_id, e.id AS enterprise_id, s.level,
                      coalesce(s.odr_class, t.odr_class) AS odr_class,
                      coalesce(s.committed_days, t.committed_days) AS committed_days, s.started_on,
                      coalesce(s.ended_on, t.ended_on) AS ended_on
                 FROM import_rows s
                 LEFT JOIN contact_point p ON p.code = s.contact_point_code
                 LEFT JOIN enterprise e ON e.credit_code = s.credit_code
                 LEFT JOIN LATERAL (
                      SELECT m.* FROM programme_membership m
                       WHERE m.programme_code = s.programme_code AND m.started_on = s.started_on
                         AND (m.contact_point_id = p.id OR m.enterprise_id = e.id)
                       ORDER BY m.id LIMIT 1) t ON true""",
        ),
    ),
    checks=(
        _unknown("contact_point_code", "contact_point_code", "contact_point", "code", "contact point"),
        _unknown("credit_code", "credit_code", "enterprise", "credit_code", "enterprise"),
    ),
    district=f"coalesce({_POINT_DISTRICT}, (SELECT e.district_code FROM enterprise e WHERE e.credit_code = s.credit_code))",
)

_CLOSED = "('settled', 'not_settled', 'transferred')"
_PATHS = {
    "received": ("received",),
    "accepted": ("received", "accepted"),
    "mediating": ("received", "accepted", "mediating"),
    "settled": ("received", "accepted", "mediating", "settled"),
    "not_settled": ("received", "accepted", "mediating", "not_settled"),
    "transferred": ("received", "transferred"),
}
"""The steps a case new to the database took to its status, each an event of history."""
_STEP_KINDS = {"received": "opened", "accepted": "accepted", "mediating": "mediation_started", "settled": "settled",
               "not_settled": "closed_unsettled", "transferred": "transferred"}  # fmt: skip
_STEPS = ", ".join(
    f"('{target}', {n}, '{status}', '{_STEP_KINDS[status]}')"
    for target, path in _PATHS.items()
    for n, status in enumerate(path)
)

CASES = KindSql(
    staging=(
        ("number", "text"),
        ("contact_point_code", "text"),
        ("kind", "text"),
        ("channel", "text"),
        ("category", "text"),
        ("status", "text"),
        ("respondent_credit_code", "text"),
        ("amount_claimed", "numeric"),
        ("amount_recovered", "numeric"),
        ("opened_at", "timestamptz"),
        ("closed_at", "timestamptz"),
        ("summary", "text"),
        ("consumer_name", "text"),
        ("consumer_phone", "text"),
    ),
    key="s.number",
    key_field="number",
    targets=(
        Target(
            '"case"',
            (
                "number",
                "kind",
                "channel",
                "category",
                "status",
                "contact_point_id",
                "respondent_enterprise_id",
                "amount_claimed",
                "amount_recovered",
                "opened_at",
                "closed_at",
                "summary",
                "consumer_name",
                "consumer_phone",
            ),
            """SELECT s.row_number, t.id IS NOT NULL AS found, t.id AS target_id, s.number, s.kind, s.channel,
                      s.category, s.status, p.id AS contact_point_id,
                      coalesce(e.id, t.respondent_enterprise_id) AS respondent_enterprise_id,
                      coalesce(s.amount_claimed, t.amount_claimed) AS amount_claimed,
                      coalesce(s.amount_recovered, t.amount_recovered) AS amount_recovered,
                      s.opened_at, s.closed_at, coalesce(s.summary, t.summary, '') AS summary,
                      coalesce(s.consumer_name, t.consumer_name) AS consumer_name,
                      coalesce(s.consumer_phone, t.consumer_phone) AS consumer_phone, t.status AS old_status
                 FROM import_rows s
                 LEFT JOIN contact_point p ON p.code = s.contact_point_code
                 LEFT JOIN enterprise e ON e.credit_code = s.respondent_credit_code
                 LEFT JOIN "case" t ON t.number = s.number""",
        ),
    ),
    checks=(
        _unknown("contact_point_code", "contact_point_code", "contact_point", "code", "contact point"),
        _unknown("respondent_credit_code", "respondent_credit_code", "enterprise", "credit_code", "enterprise"),
        """SELECT s.row_number, 'number', 'the number is of district ' || substr(s.number, 2, 6)
                  || ', the contact point of district ' || p.district_code
             FROM import_rows s JOIN contact_point p ON p.code = s.contact_point_code
            WHERE substr(s.number, 2, 6) <> p.district_code""",
        # The lifecycle, as case_guard (migration 0008) enforces it on every update.
        """SELECT i.row_number, 'status', 'case ' || i.number || ' cannot go from ' || i.old_status || ' to ' || i.status
                  || ' in one step'
             FROM import_incoming_0 i
            WHERE i.found AND i.status <> i.old_status
              AND NOT EXISTS (SELECT 1 FROM case_transition x WHERE x.from_status = i.old_status AND x.to_status = i.status)""",
        f"""SELECT i.row_number, 'status', 'case ' || i.number || ' is closed (' || i.old_status || '); reopen it to change it'
             FROM import_incoming_0 i JOIN "case" t ON t.id = i.target_id
            WHERE i.status = i.old_status AND i.old_status IN {_CLOSED}
              AND (t.kind, t.channel, t.category, t.contact_point_id, t.respondent_enterprise_id, t.amount_claimed,
                   t.amount_recovered, t.opened_at, t.closed_at, t.summary, t.consumer_name, t.consumer_phone)
                  IS DISTINCT FROM
                  (i.kind, i.channel, i.category, i.contact_point_id, i.respondent_enterprise_id, i.amount_claimed,
                   i.amount_recovered, i.opened_at, i.closed_at, i.summary, i.consumer_name, i.consumer_phone)""",
    ),
    district=_POINT_DISTRICT,
    after=(
        # Cases new to the database are history: inserted without liaison.actor, so they
        # bring their own events (migration 0008): one per step of the lifecycle to their
        # status, at the opening time, the last at the closing time.
        f"""INSERT INTO case_event (case_id, at, status, actor, note, kind, actor_credential, actor_role)
           SELECT c.id, CASE WHEN step.status = i.status THEN coalesce(i.closed_at, i.opened_at) ELSE i.opened_at END,
                  step.status, $1, 'imported', step.kind, $1, $2
             FROM import_incoming_0 i JOIN "case" c ON c.number = i.number
             JOIN (VALUES {_STEPS}) step (target, n, status, kind) ON step.target = i.status
            WHERE NOT i.found
            ORDER BY c.id, step.n""",
        # Intake numbers past the imported ones.
        """INSERT INTO case_number_counter AS n (district_code, year, last)
           SELECT substr(number, 2, 6), substr(number, 9, 4)::int, max(substr(number, 14)::int)
             FROM import_incoming_0 WHERE NOT found AND char_length(number) = 19 GROUP BY 1, 2
           ON CONFLICT (district_code, year) DO UPDATE SET last = greatest(n.last, excluded.last)""",
        # Changes to cases already held go through case_guard and case_audit with the importer
        # as the actor: the database writes their events.
        """SELECT set_config('liaison.actor', $1, true), set_config('liaison.actor_role', $2, true),
                  set_config('liaison.note', 'imported', true)""",
    ),
)

ACTIVITIES = KindSql(
    staging=(
        ("contact_point_code", "text"),
        ("held_on", "date"),
        ("kind", "text"),
        ("attendance", "integer"),
        ("copies", "integer"),
        ("title", "text"),
    ),
    key="s.contact_point_code, s.held_on, s.kind",
    key_field="contact_point_code",
    targets=(
        Target(
            "education_activity",
            ("contact_point_id", "held_on", "kind", "attendance", "copies", "title"),
            """SELECT s.row_number, t.id IS NOT NULL AS found, t.id AS target_id, p.id AS contact_point_id,
                      s.held_on, s.kind, coalesce(s.attendance, t.attendance, 0) AS attendance,
                      coalesce(s.copies, t.copies, 0) AS copies, coalesce(s.title, t.title, '') AS title
                 FROM import_rows s JOIN contact_point p ON p.code = s.contact_point_code
                 LEFT JOIN education_activity t
                        ON t.contact_point_id = p.id AND t.held_on = s.held_on AND t.kind = s.kind""",
        ),
    ),
    checks=(
        _unknown("contact_point_code", "contact_point_code", "contact_point", "code", "contact point"),
        """SELECT s.row_number, 'held_on', 'before the contact point was set up (' || p.established_on || ')'
             FROM import_rows s JOIN contact_point p ON p.code = s.contact_point_code
            WHERE s.held_on < p.established_on""",
    ),
    district=_POINT_DISTRICT,
)

KINDS = {
    "contact-points": CONTACT_POINTS,
    "awards": AWARDS,
    "memberships": MEMBERSHIPS,
    "cases": CASES,
    "activities": ACTIVITIES,
}

HISTORY = """
INSERT INTO import_run (kind, file_name, file_sha256, file_bytes, actor, actor_role, rows, created, updated, unchanged)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
RETURNING id"""


async def begin(conn: asyncpg.Connection, kind: str) -> None:
    """In the caller's transaction: one import of a kind at a time, and its staging table."""
    sql = KINDS[kind]
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('liaison.import'), hashtext($1))", kind)
    await conn.execute("SET LOCAL statement_timeout = '15min'")  # a large file's statements, not a request's
    columns = ", ".join(f"{name} {type_}" for name, type_ in sql.staging)
    await conn.execute(f"CREATE TEMP TABLE import_rows (row_number integer NOT NULL, {columns}) ON COMMIT DROP")


async def stage(conn: asyncpg.Connection, kind: str, records: list[tuple[Any, ...]]) -> None:
    columns = ["row_number", *(name for name, _ in KINDS[kind].staging)]
    with _refusals():
        await conn.copy_records_to_table("import_rows", records=records, columns=columns)


def _scope_check(sql: KindSql) -> str:
    return (
        f"SELECT s.row_number, '{sql.key_field}', 'outside your districts (' || coalesce({sql.district}, '?') || ')'"
        f" FROM import_rows s WHERE {sql.district} IN (SELECT code FROM district)"
        f" AND NOT EXISTS (SELECT 1 FROM district d WHERE d.code = {sql.district}"
        " AND (d.code = ANY($1::text[]) OR d.region_code = ANY($2::text[])))"
    )


@dataclass
class Refusals:
    """The rows the database refuses: the first ``listed`` (row_number, field, reason), and
    how many rows in all."""

    listed: list[asyncpg.Record]
    rows: int


async def finish(conn: asyncpg.Connection, kind: str, scope: Scope | None, listed: int) -> tuple[Refusals, Counts]:
    """The rows the database refuses, and the counts of the rest."""
    sql = KINDS[kind]
    await conn.execute("CREATE INDEX ON import_rows (row_number)")
    await conn.execute("ANALYZE import_rows")
    for n, target in enumerate(sql.targets):
        await conn.execute(f"CREATE TEMP TABLE import_incoming_{n} ON COMMIT DROP AS {target.incoming}")
    duplicates = (
        f"SELECT row_number, '{sql.key_field}', 'the same key as row ' || first || ' above'"
        f" FROM (SELECT s.row_number, min(s.row_number) OVER (PARTITION BY {sql.key}) AS first FROM import_rows s) d"
        " WHERE row_number > first"
    )
    checks = [duplicates, *sql.checks]
    args: tuple[Any, ...] = ()
    if scope is not None:
        checks.append(_scope_check(sql))
        args = (list(scope.district_codes), list(scope.region_codes))
    await conn.execute(
        "CREATE TEMP TABLE import_refused ON COMMIT DROP AS SELECT DISTINCT ON (row_number, field) * FROM ("
        + " UNION ALL ".join(f"({check})" for check in checks)
        + ") r (row_number, field, reason) ORDER BY row_number, field",
        *args,
    )
    refusals = Refusals(
        await conn.fetch("SELECT * FROM import_refused ORDER BY row_number, field LIMIT $1", listed),
        await conn.fetchval("SELECT count(DISTINCT row_number) FROM import_refused"),
    )
    counts = Counts()
    for n, target in enumerate(sql.targets):
        await conn.execute(
            f"DELETE FROM import_incoming_{n} i USING import_refused r WHERE i.row_number = r.row_number"
        )
        columns = ", ".join(target.columns)
        found = await conn.fetchrow(
            f"SELECT count(*) AS rows, count(*) FILTER (WHERE NOT found) AS created,"
            f" (SELECT count(*) FROM import_incoming_{n} i JOIN {target.table} t ON {target.match}"
            f"   WHERE ROW({_prefixed('t', columns)}) IS DISTINCT FROM ROW({_prefixed('i', columns)})) AS updated"
            f" FROM import_incoming_{n}"
        )
        counts.rows += found["rows"]
        counts.created += found["created"]
        counts.updated += found["updated"]
    counts.unchanged = counts.rows - counts.created - counts.updated
    return refusals, counts


def _prefixed(alias: str, columns: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in columns.split(","))


async def apply(conn: asyncpg.Connection, kind: str, actor: Actor, file: tuple[str, bytes, int], counts: Counts) -> int:
    """Write the incoming rows and the history row; the import's id."""
    with _refusals():
        return await _apply(conn, kind, actor, file, counts)


async def _apply(
    conn: asyncpg.Connection, kind: str, actor: Actor, file: tuple[str, bytes, int], counts: Counts
) -> int:
    sql = KINDS[kind]
    for statement in sql.before:
        await conn.execute(statement)
    for n, target in enumerate(sql.targets):
        columns = ", ".join(target.columns)
        await conn.execute(
            f"INSERT INTO {target.table} ({columns}) SELECT {columns} FROM import_incoming_{n}"
            " WHERE NOT found ORDER BY row_number"
        )
    for statement in sql.after:
        await conn.execute(statement, *([actor.name, actor.role] if "$1" in statement else []))
    for n, target in enumerate(sql.targets):
        columns = ", ".join(target.columns)
        await conn.execute(
            f"UPDATE {target.table} t SET ({columns}) = ROW({_prefixed('i', columns)}) FROM import_incoming_{n} i"
            f" WHERE {target.match} AND ROW({_prefixed('t', columns)}) IS DISTINCT FROM ROW({_prefixed('i', columns)})"
        )
    name, sha256, size = file
    return await conn.fetchval(
        HISTORY,
        kind,
        name,
        sha256,
        size,
        actor.name,
        actor.role,
        counts.rows,
        counts.created,
        counts.updated,
        counts.unchanged,
    )
