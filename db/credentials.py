"""API keys: made, found, listed and revoked. Only a key's SHA-256 is ever stored.

A key is ``lgk_<public id>_<secret>``: the public id finds the row (and names the key
in logs and listings), the hash of the whole key is compared in constant time. Keys are
32 random bytes, so a fast hash suffices: there is nothing to brute-force.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from .access import Role, Viewer, scope_problem
from .pool import Executor

__all__ = ["ApiKey", "KeyRefused", "create_key", "find_key", "list_keys", "revoke_key", "touch_key"]

PREFIX = "lgk_"
_SHAPE = re.compile(r"lgk_([0-9a-f]{12})_[A-Za-z0-9_-]{43}")

_COLUMNS = (
    "public_id, role, region_codes, district_codes, label, created_at, expires_at, revoked_at, last_used_at,"
    " trusted_only, contact_point_codes"
)


class KeyRefused(Exception):
    """The key cannot be made as asked (a scope that does not fit its role, unknown codes)."""


@dataclass(frozen=True)
class ApiKey:
    public_id: str
    role: Role
    region_codes: tuple[str, ...]
    district_codes: tuple[str, ...]
    label: str
    created_at: datetime.datetime
    expires_at: datetime.datetime | None
    revoked_at: datetime.datetime | None
    last_used_at: datetime.datetime | None
    trusted_only: bool = False
    contact_point_codes: tuple[str, ...] = ()

    @property
    def viewer(self) -> Viewer:
        return Viewer(
            self.role,
            f"key:{self.public_id}",
            self.region_codes,
            self.district_codes,
            self.trusted_only,
            self.contact_point_codes,
        )

    def usable(self, now: datetime.datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _key(row: Sequence[object]) -> ApiKey:
    values = list(row)
    values[1] = Role(str(values[1]))
    values[2], values[3], values[10] = tuple(values[2]), tuple(values[3]), tuple(values[10])  # type: ignore[arg-type]
    return ApiKey(*values)  # type: ignore[arg-type]


async def create_key(
    db: Executor,
    role: Role,
    label: str,
    *,
    region_codes: Sequence[str] = (),
    district_codes: Sequence[str] = (),
    expires_at: datetime.datetime | None = None,
    trusted_only: bool = False,
    contact_point_codes: Sequence[str] = (),
) -> tuple[str, ApiKey]:
    """A new key and its record; the key itself is returned this once and never stored."""
    problem = scope_problem(role, tuple(region_codes), tuple(district_codes), tuple(contact_point_codes))
    if problem is not None:
        raise KeyRefused(f"{problem} (--region, --district, --contact-point)")
    known = await db.fetch(
        "SELECT (SELECT array_agg(c) FROM unnest($1::text[]) c WHERE c NOT IN (SELECT code FROM region)),"
        " (SELECT array_agg(c) FROM unnest($2::text[]) c WHERE c NOT IN (SELECT code FROM district)),"
        " (SELECT array_agg(c) FROM unnest($3::text[]) c WHERE c NOT IN (SELECT code FROM contact_point))",
        list(region_codes),
        list(district_codes),
        list(contact_point_codes),
    )
    unknown = [*(known[0][0] or ()), *(known[0][1] or ()), *(known[0][2] or ())]
    if unknown:
        raise KeyRefused(f"unknown region, district or contact point codes: {', '.join(unknown)}")
    public_id = secrets.token_hex(6)
    key = f"{PREFIX}{public_id}_{secrets.token_urlsafe(32)}"
    rows = await db.fetch(
        "INSERT INTO api_key (public_id, secret_sha256, role, region_codes, district_codes, label, expires_at,"
        f" trusted_only, contact_point_codes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING {_COLUMNS}",
        public_id,
        _digest(key),
        role.value,
        list(region_codes),
        list(district_codes),
        label,
        expires_at,
        trusted_only,
        list(contact_point_codes),
    )
    return key, _key(rows[0])


def looks_like_key(credential: str) -> bool:
    return credential.startswith(PREFIX)


async def find_key(db: Executor, key: str) -> ApiKey | None:
    """The record of ``key`` if it is one of ours (usable or not), else None."""
    shape = _SHAPE.fullmatch(key)
    if shape is None:
        return None
    rows = await db.fetch(f"SELECT secret_sha256, {_COLUMNS} FROM api_key WHERE public_id = $1", shape[1])
    if not rows or not hmac.compare_digest(rows[0][0], _digest(key)):
        return None
    return _key(rows[0][1:])


async def touch_key(db: Executor, public_id: str) -> None:
    """Record a use; at most once a minute per key, so a busy key is not a write per request."""
    await db.fetch(
        "UPDATE api_key SET last_used_at = now() WHERE public_id = $1"
        " AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')",
        public_id,
    )


async def list_keys(db: Executor) -> list[ApiKey]:
    return [_key(row) for row in await db.fetch(f"SELECT {_COLUMNS} FROM api_key ORDER BY created_at, id")]


async def revoke_key(db: Executor, public_id: str) -> bool:
    """Revoke at once; False if there is no such key or it was revoked already."""
    rows = await db.fetch(
        "UPDATE api_key SET revoked_at = now() WHERE public_id = $1 AND revoked_at IS NULL RETURNING 1", public_id
    )
    return bool(rows)
