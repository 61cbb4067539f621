"""Settings, read once from the environment and then frozen."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from db.embedded import default_data_dir
from resolvers.limits import Limits

from .auth import JwtSettings
from .logs import FORMATS
from .tracing import traces_exporter

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    """None means: start the embedded PostgreSQL in ``data_dir``."""
    data_dir: Path
    host: str
    port: int
    db_timeout: float
    """Seconds any database wait may take before a request fails with DATABASE_UNAVAILABLE;
    waiting for a free pool connection has a bound of its own, as long (SERVICE_OVERLOADED)."""
    pool_size: int
    load_demo: bool
    """Load the demo data into an empty database at start-up."""
    cors_origins: tuple[str, ...] = ()
    """Origins (``https://app.example.org``) whose pages may call the API from a browser; ``*`` for any."""
    jwt: JwtSettings = field(default_factory=JwtSettings)
    limits: Limits = field(default_factory=Limits)
    redis_url: str | None = None
    router_secret: str | None = None
    trusted_documents_only: bool = False
    execution: str = "compiled"
    """``compiled``: queries the compiler knows run as one SQL statement; ``dataloader``: none
    do; ``verify``: both run, the generic path's answer is sent and the compiled one checked
    against it byte for byte (a mismatch is logged and flagged in ``X-Liaison-Execution``)."""
    log_format: str = "json"
    """``LIAISON_LOG_FORMAT``: ``json``, one object per line, or ``text`` for people."""
    metrics_secret: str | None = None
    """``LIAISON_METRICS_SECRET``: /metrics answers only ``Authorization: Bearer`` it; unset, /metrics is off."""
    traces_exporter: str | None = None
    """From the standard ``OTEL_*`` variables (``api.tracing.traces_exporter``): None, tracing off."""
    """Only saved operations run on /graphql (by hash or name); any other document is refused."""
    """When set, ``_entities`` and ``_service`` answer only requests whose X-Router-Secret holds it."""
    """Where rate-limit budgets are kept when several processes serve; None: in-process."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env["LIAISON_DATA_DIR"]) if env.get("LIAISON_DATA_DIR") else default_data_dir(),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8000")),
            db_timeout=float(env.get("LIAISON_DB_TIMEOUT", "3")),
            pool_size=int(env.get("LIAISON_POOL_SIZE", "10")),
            load_demo=_flag(env.get("LIAISON_DEMO_DATA", "1")),
            cors_origins=_origins(env.get("LIAISON_CORS_ORIGINS", "")),
            jwt=JwtSettings.from_env(env),
            limits=Limits.from_env(env),
            redis_url=env.get("REDIS_URL") or None,
            router_secret=env.get("LIAISON_ROUTER_SECRET") or None,
            trusted_documents_only=_flag(env.get("LIAISON_TRUSTED_DOCUMENTS_ONLY", "0")),
            execution=_execution(env.get("LIAISON_EXECUTION", "compiled")),
            log_format=_log_format(env.get("LIAISON_LOG_FORMAT", "json")),
            metrics_secret=_metrics_secret(env.get("LIAISON_METRICS_SECRET", "")),
            traces_exporter=traces_exporter(env),
        )


def _log_format(value: str) -> str:
    value = value.strip().lower()
    if value not in FORMATS:
        raise ValueError(f"LIAISON_LOG_FORMAT: {value!r} is not json or text")
    return value


def _metrics_secret(value: str) -> str | None:
    if value and len(value) < 16:
        raise ValueError("LIAISON_METRICS_SECRET: at least 16 characters, or unset to turn /metrics off")
    return value or None


def _execution(value: str) -> str:
    value = value.strip().lower()
    if value not in ("compiled", "dataloader", "verify"):
        raise ValueError(f"LIAISON_EXECUTION: {value!r} is not compiled, dataloader or verify")
    return value


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off")


def _origins(value: str) -> tuple[str, ...]:
    """``LIAISON_CORS_ORIGINS``, comma-separated, as browsers send them in ``Origin``."""
    origins = []
    for item in value.split(","):
        origin = item.strip().rstrip("/").lower()
        if not origin:
            continue
        parts = urlsplit(origin)
        if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc or parts.path or parts.query):
            raise ValueError(f"LIAISON_CORS_ORIGINS: {item.strip()!r} is not an origin like https://app.example.org")
        origins.append(origin)
    return tuple(origins)
