"""Settings, read once from the environment and then frozen."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from db.embedded import default_data_dir

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    """None means: start the embedded PostgreSQL in ``data_dir``."""
    data_dir: Path
    host: str
    port: int
    db_timeout: float
    """Seconds any database wait may take before a request fails with DATABASE_UNAVAILABLE."""
    pool_size: int
    load_demo: bool
    """Load the demo data into an empty database at start-up."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            data_dir=Path(env["LIAISON_DATA_DIR"]) if env.get("LIAISON_DATA_DIR") else default_data_dir(),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8000")),
            db_timeout=float(env.get("LIAISON_DB_TIMEOUT", "3")),
            pool_size=int(env.get("LIAISON_POOL_SIZE", "10")),
            load_demo=env.get("LIAISON_DEMO_DATA", "1") not in ("0", "false", "no"),
        )
