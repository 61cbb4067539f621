"""Settings, read once from the environment and then frozen.

A setting is a field here (or in ``LimitSettings``, ``JwtSettings``): its type, its default, its
variable's name as the alias and an attribute docstring that ``liaison --help`` prints.
A group of settings can be a ``FromEnvironment`` model of its own, a field here with its
defaults as default; it reads the same variables. A bad value stops the command before
anything starts, with one line from ``problem``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, PositiveFloat, PositiveInt, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from db.embedded import default_data_dir
from resolvers.context import Execution
from resolvers.environment import FromEnvironment, variables
from resolvers.limits import LimitSettings

from .auth import JwtSettings
from .tracing import traces_exporter

__all__ = ["Settings", "problem"]


class Settings(FromEnvironment):
    database_url: str | None = Field(None, alias="DATABASE_URL", repr=False)
    """PostgreSQL to use, postgresql://user:password@host:5432/database; unset: the embedded one."""
    data_dir: Path = Field(default_factory=default_data_dir, alias="LIAISON_DATA_DIR")
    """Where the embedded PostgreSQL keeps its data."""
    host: str = Field("127.0.0.1", alias="HOST")
    """The address ``liaison serve`` listens on (``--host``)."""
    port: int = Field(8000, alias="PORT", ge=1, le=65535)
    """The port ``liaison serve`` listens on (``--port``)."""
    workers: PositiveInt = Field(1, alias="LIAISON_WORKERS")
    """Processes ``liaison serve`` runs (``--workers``); they share one port and one database."""
    db_timeout: PositiveFloat = Field(3.0, alias="LIAISON_DB_TIMEOUT")
    """Seconds any database wait may take before a request fails with DATABASE_UNAVAILABLE;
    waiting for a free pool connection has a bound of its own, as long (SERVICE_OVERLOADED)."""
    pool_size: PositiveInt | None = Field(None, alias="LIAISON_POOL_SIZE")
    """Connections to PostgreSQL each process keeps at most; unset: 10, or for a PostgreSQL on
    this machine (the embedded one, a socket, localhost) twice its cores plus one, shared by
    the workers (at least 3 each, at most 10; ``db.pool.pool_size_for``)."""
    load_demo: bool = Field(True, alias="LIAISON_DEMO_DATA")
    """Load the demo data into an empty database at start-up."""
    cors_origins: tuple[str, ...] = Field((), alias="LIAISON_CORS_ORIGINS")
    """Origins (``https://app.example.org``), comma-separated, whose pages may call the API from a browser; ``*`` for any."""
    jwt: JwtSettings = JwtSettings()
    limits: LimitSettings = LimitSettings()
    redis_url: str | None = Field(None, alias="REDIS_URL", repr=False)
    """Where rate-limit budgets are kept when several processes serve; unset: in each process."""
    router_secret: str | None = Field(None, alias="LIAISON_ROUTER_SECRET", repr=False)
    """When set, ``_entities`` and ``_service`` answer only requests whose X-Router-Secret holds it."""
    trusted_documents_only: bool = Field(False, alias="LIAISON_TRUSTED_DOCUMENTS_ONLY")
    """Only saved operations run on /graphql (by hash or name); any other document is refused."""
    execution: Execution = Field("compiled", alias="LIAISON_EXECUTION")
    """``compiled``: queries the compiler knows run as one SQL statement; ``dataloader``: none
    do; ``verify``: both run, the generic path's answer is sent and the compiled one checked
    against it byte for byte (a mismatch is logged and flagged in ``X-Liaison-Execution``)."""
    answers_mib: float = Field(8, alias="LIAISON_ANSWERS_MIB", ge=0)
    """MiB of compiled statistics answers kept while what they read is unchanged (``db.answers``); 0: none kept."""
    log_format: Literal["json", "text"] = Field("json", alias="LIAISON_LOG_FORMAT")
    """``json``: one object per line (each request's line with its id, path and cost); ``text`` for people."""
    metrics_secret: str | None = Field(None, alias="LIAISON_METRICS_SECRET", repr=False, min_length=16)
    """/metrics answers only ``Authorization: Bearer`` with it (at least 16 characters); unset: no /metrics."""
    traces_exporter: Literal["otlp", "console"] | None = None
    """Where spans go, from the standard ``OTEL_*`` variables (``api.tracing.traces_exporter``); None: off."""

    @model_validator(mode="before")
    @classmethod
    def _traces(cls, values: Any) -> Any:
        if isinstance(values, Mapping) and "traces_exporter" not in values:
            return {**values, "traces_exporter": traces_exporter(values)}
        return values

    @field_validator("database_url")
    @classmethod
    def _postgresql_url(cls, value: str | None) -> str | None:
        if value is not None:
            _url(
                value, ("postgresql", "postgres"), "a PostgreSQL URL like postgresql://user:password@host:5432/database"
            )
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None:
            _url(value, ("redis", "rediss", "unix"), "a Redis URL like redis://host:6379/0")
        return value

    @field_validator("execution", mode="before")
    @classmethod
    def _any_case(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        """Comma-separated, as browsers send them in ``Origin``."""
        if not isinstance(value, str):
            return value
        origins = []
        for item in value.split(","):
            origin = item.strip().rstrip("/").lower()
            if not origin:
                continue
            parts = urlsplit(origin)
            if origin != "*" and (
                parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query
            ):
                raise ValueError(f"origins like https://app.example.org, comma-separated ({item.strip()!r} is not one)")
            origins.append(origin)
        return tuple(origins)


def _url(value: str, schemes: tuple[str, ...], expected: str) -> None:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ValueError(expected) from exc
    if parts.scheme not in schemes or not (parts.netloc or parts.query):
        raise ValueError(expected)


_EXPECTED = {
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "bool_parsing": "true or false (1/0, yes/no, on/off)",
    "greater_than": "a number greater than {gt}",
    "greater_than_equal": "a number of at least {ge}",
    "less_than_equal": "a number of at most {le}",
    "string_too_short": "at least {min_length} characters",
    "literal_error": "one of {expected}",
}


def problem(error: ValidationError) -> str:
    """One line for a person: each bad variable, what it expects and (unless secret) what it got."""
    fields = dict(variables(Settings))
    return "; ".join(_described(detail, fields) for detail in error.errors())


def _described(detail: ErrorDetails, fields: dict[str, FieldInfo]) -> str:
    name = str(detail["loc"][-1]) if detail["loc"] else ""
    if name not in fields:  # a rule across variables: its message names them
        return detail["msg"].removeprefix("Value error, ")
    expected = _EXPECTED.get(detail["type"], detail["msg"].removeprefix("Value error, "))
    expected = expected.format(**detail.get("ctx", {}))
    shown = f"; got {detail['input']!r}" if fields[name].repr and isinstance(detail["input"], str) else ""
    return f"{name} must be {expected}{shown}"
