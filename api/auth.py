"""Who is calling: an API key or a bearer JWT in ``Authorization``, or nobody (anonymous).

A credential that is present but wrong (unknown, revoked, expired, badly signed, for
another audience) is refused with ``UNAUTHENTICATED``: never read as anonymous, so a
client with a broken key learns it at once instead of seeing less data.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import jwt
from pydantic import Field, field_validator, model_validator

from db.access import ANONYMOUS, Role, Viewer, scope_problem
from db.credentials import find_key, looks_like_key, touch_key
from db.pool import Database
from resolvers.environment import FromEnvironment
from schema.caches import BoundedCache, plain_size

__all__ = ["Authenticator", "JwtSettings", "Unauthenticated"]

log = logging.getLogger(__name__)

MAX_LEEWAY = 300.0
"""Seconds of clock skew tolerated at most, whatever the settings say."""

_TOUCH_EVERY = 60.0
_CODE = re.compile(r"[1-9][0-9]{5}")
_POINT_CODE = re.compile(r"CP[1-9][0-9]{5}-[0-9]{5}")


class Unauthenticated(Exception):
    code = "UNAUTHENTICATED"


class JwtSettings(FromEnvironment):
    """Where bearer tokens come from; no key configured means tokens are refused."""

    issuer: str | None = Field(None, alias="LIAISON_JWT_ISSUER")
    """The ``iss`` tokens must carry; required with a key."""
    audience: str | None = Field(None, alias="LIAISON_JWT_AUDIENCE")
    """The ``aud`` tokens must carry; required with a key."""
    hs256_secret: str | None = Field(None, alias="LIAISON_JWT_SECRET", min_length=32, repr=False)
    """The shared secret of HS256 tokens (at least 32 characters)."""
    rs256_public_key: str | None = Field(None, alias="LIAISON_JWT_PUBLIC_KEY", repr=False)
    """The public key of RS256 tokens: PEM text, or the path of a PEM file."""
    leeway: float = Field(30.0, alias="LIAISON_JWT_LEEWAY", ge=0)
    """Seconds of clock skew tolerated on ``exp`` and ``nbf`` (at most 300)."""

    @field_validator("rs256_public_key")
    @classmethod
    def _pem(cls, value: str | None) -> str | None:
        if value is None or value.lstrip().startswith("-----BEGIN"):
            return value
        try:
            return Path(value).read_text()
        except OSError as exc:
            raise ValueError(f"PEM text or the path of a readable PEM file ({exc.strerror})") from exc

    @field_validator("leeway")
    @classmethod
    def _at_most(cls, value: float) -> float:
        return min(value, MAX_LEEWAY)

    @model_validator(mode="after")
    def _names_the_tokens(self) -> Self:
        if self.keys and (self.issuer is None or self.audience is None):
            raise ValueError("LIAISON_JWT_ISSUER and LIAISON_JWT_AUDIENCE must be set with a JWT key")
        return self

    @property
    def keys(self) -> dict[str, Any]:
        """Key per algorithm, each algorithm with its own kind of key (no HS/RS confusion)."""
        keys: dict[str, Any] = {}
        if self.hs256_secret is not None:
            keys["HS256"] = self.hs256_secret
        if self.rs256_public_key is not None:
            keys["RS256"] = self.rs256_public_key
        return keys


VERIFIED_BUDGET = 2**21
"""Bytes of verified tokens kept (a viewer and two times: some 2,000 tokens)."""
TOUCHED_BUDGET = 2**18
"""Bytes of API keys' last marks kept (a float each: some 500 keys)."""


class Authenticator:
    """Who is calling, for one app; what it keeps between requests:

    - tokens already verified, with their viewer and validity (nbf, exp), keyed by a digest
      of the token: a dashboard sends the same token with every request, and checking its
      signature cost more than a compiled query;
    - when each API key was last marked used, so it is written at most every minute.
    """

    def __init__(self, settings: JwtSettings) -> None:
        self.settings = settings
        self.verified: BoundedCache[tuple[Viewer, float, float]] = BoundedCache(VERIFIED_BUDGET)
        self.touched: BoundedCache[float] = BoundedCache(TOUCHED_BUDGET)

    async def viewer(self, authorization: str | None, db: Database) -> Viewer:
        """The viewer named by an ``Authorization`` header value (None: anonymous)."""
        if authorization is None:
            return ANONYMOUS
        scheme, _, credential = authorization.strip().partition(" ")
        credential = credential.strip()
        if scheme.lower() != "bearer" or not credential:
            raise Unauthenticated("Send credentials as `Authorization: Bearer <API key or token>`.")
        if looks_like_key(credential):
            return await self._key_viewer(credential, db)
        return self._token_viewer(credential)

    async def _key_viewer(self, credential: str, db: Database) -> Viewer:
        key = await find_key(db, credential)
        if key is None:
            raise Unauthenticated("This API key is not valid.")
        if not key.usable(datetime.datetime.now(datetime.UTC)):
            raise Unauthenticated("This API key has expired or was revoked.")
        now = time.monotonic()
        touched = self.touched.get(key.public_id)
        if touched is None or now - touched >= _TOUCH_EVERY:
            self.touched.put(now, plain_size(now), key.public_id)
            await touch_key(db, key.public_id)
        return key.viewer

    def _token_viewer(self, token: str) -> Viewer:
        settings = self.settings
        known = self.verified.get(token)
        if known is not None:
            viewer, not_before, expires = known
            if not_before - settings.leeway <= time.time() < expires + settings.leeway:  # as jwt.decode holds them
                return viewer
        verified = _verify(token, settings)  # again, when it no longer holds: it words why
        self.verified.put(verified, plain_size(verified), token)
        return verified[0]


def _verify(token: str, settings: JwtSettings) -> tuple[Viewer, float, float]:
    keys = settings.keys
    if not keys:
        raise Unauthenticated("Bearer tokens are not accepted by this service; use an API key.")
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
        if not isinstance(algorithm, str) or algorithm not in keys:
            raise Unauthenticated(f"Tokens must be signed with {' or '.join(keys)}.")
        claims = jwt.decode(
            token,
            keys[algorithm],
            algorithms=[algorithm],
            audience=settings.audience,
            issuer=settings.issuer,
            leeway=settings.leeway,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthenticated("This token has expired.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise Unauthenticated("This token is not valid yet.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthenticated("This token is not valid.") from exc
    return _claims_viewer(claims), float(claims.get("nbf", float("-inf"))), float(claims["exp"])


def _codes(value: object, shape: re.Pattern[str] = _CODE) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list) and all(isinstance(v, str) and shape.fullmatch(v) for v in value):
        return tuple(value)
    if shape is _POINT_CODE:
        raise Unauthenticated("The token's `contactPoints` claim must list contact point codes like CP310115-00001.")
    raise Unauthenticated("The token's `regions` and `districts` claims must be lists of six-digit codes.")


def _claims_viewer(claims: Mapping[str, Any]) -> Viewer:
    """``role``, ``regions``, ``districts`` and ``contactPoints`` claims, held to the same rules as API keys."""
    try:
        role = Role(str(claims.get("role")))
    except ValueError as exc:
        raise Unauthenticated("The token's `role` claim names no role of this service.") from exc
    regions, districts = _codes(claims.get("regions")), _codes(claims.get("districts"))
    points = _codes(claims.get("contactPoints"), _POINT_CODE)
    problem = scope_problem(role, regions, districts, points)
    if problem is not None:
        raise Unauthenticated(f"The token's claims do not hold: {problem} (`regions`, `districts`, `contactPoints`).")
    trusted_only = claims.get("trusted_only", False)
    if not isinstance(trusted_only, bool):
        raise Unauthenticated("The token's `trusted_only` claim must be true or false.")
    return Viewer(role, _token_credential(str(claims["sub"])), regions, districts, trusted_only, points)


def _token_credential(subject: str) -> str:
    """A token's credential id: its subject, or a long one's digest. It keys idempotency and
    budgets, so two subjects must never share one (a prefix would let them)."""
    if len(subject) <= 64:
        return f"token:{subject}"
    return f"token:sha256:{hashlib.sha256(subject.encode()).hexdigest()}"
