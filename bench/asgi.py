"""An ASGI factory for running our service under uvicorn's own command line (several workers):

    DATABASE_URL=postgresql://… .venv/bin/uvicorn --factory bench.asgi:app --workers 2 --port 8000

Each worker builds the app from the environment as ``liaison serve`` does (DATABASE_URL must
be set: no embedded database here) and tunes the garbage collector the same way.
"""

from __future__ import annotations

from starlette.types import ASGIApp

from api.app import create_app
from api.cli import _tune_gc
from api.settings import Settings


def app() -> ASGIApp:
    settings = Settings.from_env()
    if settings.database_url is None:
        raise SystemExit("bench.asgi: set DATABASE_URL")
    built = create_app(settings)
    _tune_gc()
    return built
