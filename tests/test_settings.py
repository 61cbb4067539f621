"""Settings and the command line: a bad setting is one line before anything starts; --help
lists every variable; --version; and the README's tables hold every variable."""

from __future__ import annotations

import os
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from api.settings import Settings
from resolvers.environment import variables

from .support import LIAISON

README = Path(__file__).resolve().parents[1] / "README.md"

BAD = [
    ({"PORT": "abc"}, "liaison: PORT must be a whole number; got 'abc'"),
    ({"PORT": "70000"}, "liaison: PORT must be a number of at most 65535; got '70000'"),
    (
        {"DATABASE_URL": "localhost:5432/liaison"},
        "liaison: DATABASE_URL must be a PostgreSQL URL like postgresql://user:password@host:5432/database",
    ),
    (
        {"DATABASE_URL": "postgresql://u:hunter2@db:54x2/liaison"},  # a bad port; the password not echoed
        "liaison: DATABASE_URL must be a PostgreSQL URL like postgresql://user:password@host:5432/database",
    ),
    (
        {"LIAISON_EXECUTION": "fast"},
        "liaison: LIAISON_EXECUTION must be one of 'compiled', 'dataloader' or 'verify'; got 'fast'",
    ),
    ({"LIAISON_DB_TIMEOUT": "soon"}, "liaison: LIAISON_DB_TIMEOUT must be a number; got 'soon'"),
    ({"LIAISON_POOL_SIZE": "-1"}, "liaison: LIAISON_POOL_SIZE must be a number greater than 0; got '-1'"),
    ({"LIAISON_WORKERS": "two"}, "liaison: LIAISON_WORKERS must be a whole number; got 'two'"),
    ({"LIAISON_MAX_DEPTH": "0"}, "liaison: LIAISON_MAX_DEPTH must be a number greater than 0; got '0'"),
    ({"LIAISON_REQUEST_TIMEOUT": "1m"}, "liaison: LIAISON_REQUEST_TIMEOUT must be a number; got '1m'"),
    (
        {"LIAISON_DEMO_DATA": "maybe"},
        "liaison: LIAISON_DEMO_DATA must be true or false (1/0, yes/no, on/off); got 'maybe'",
    ),
    (
        {"LIAISON_CORS_ORIGINS": "app.example.org"},
        "liaison: LIAISON_CORS_ORIGINS must be origins like https://app.example.org, comma-separated"
        " ('app.example.org' is not one); got 'app.example.org'",
    ),
    (
        {"REDIS_URL": "localhost:6379"},
        "liaison: REDIS_URL must be a Redis URL like redis://host:6379/0",
    ),
    (
        {"LIAISON_JWT_SECRET": "too short to be secret"},  # not echoed
        "liaison: LIAISON_JWT_SECRET must be at least 32 characters",
    ),
    (
        {"LIAISON_JWT_SECRET": "x" * 40},
        "liaison: LIAISON_JWT_ISSUER and LIAISON_JWT_AUDIENCE must be set with a JWT key",
    ),
    (
        {"LIAISON_JWT_PUBLIC_KEY": "/nonexistent/key.pem"},
        "liaison: LIAISON_JWT_PUBLIC_KEY must be PEM text or the path of a readable PEM file (No such file or directory)",
    ),
    (
        {"PORT": "abc", "LIAISON_EXECUTION": "fast"},  # every bad one, still on one line
        "liaison: PORT must be a whole number; got 'abc';"
        " LIAISON_EXECUTION must be one of 'compiled', 'dataloader' or 'verify'; got 'fast'",
    ),
]


def _environment(tmp_path: Path, **env: str) -> dict[str, str]:
    """The test's environment with none of the service's own settings in it."""
    names = {name for name, _ in variables(Settings)}
    kept = {k: v for k, v in os.environ.items() if k not in names}
    return {**kept, "LIAISON_DATA_DIR": str(tmp_path / "pg"), **env}


@pytest.mark.parametrize(("env", "line"), BAD, ids=[" ".join(env) for env, _ in BAD])
def test_a_bad_setting_is_one_line_before_anything_starts(tmp_path: Path, env: dict[str, str], line: str) -> None:
    done = subprocess.run(
        [str(LIAISON), "serve"], env=_environment(tmp_path, **env), capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")
    assert not (tmp_path / "pg").exists(), "the embedded database was started before the settings were read"


def test_the_command_line_options_are_checked_as_their_variables(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(LIAISON), "serve", "--workers", "0"], env=_environment(tmp_path), capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (2, "liaison: LIAISON_WORKERS must be a number greater than 0; got '0'\n")


def test_help_lists_every_environment_variable(tmp_path: Path) -> None:
    done = subprocess.run([str(LIAISON), "--help"], env=_environment(tmp_path), capture_output=True, text=True)
    assert done.returncode == 0
    listed = [line.split()[0] for line in done.stdout.splitlines() if line.startswith("  ") and "(default " in line]
    assert listed == [name for name, _ in variables(Settings)]
    assert "  PORT (default 8000)\n      The port `liaison serve` listens on (`--port`).\n" in done.stdout


def test_version_is_the_package_version(tmp_path: Path) -> None:
    done = subprocess.run([str(LIAISON), "--version"], env=_environment(tmp_path), capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, f"liaison {metadata.version('liaison-graph')}\n")


def test_the_readme_documents_every_variable() -> None:
    text = README.read_text()
    missing = [name for name, _ in variables(Settings) if f"`{name}`" not in text]
    assert missing == []


def test_blank_is_unset_and_values_are_typed() -> None:
    settings = Settings.from_env(
        {"PORT": "", "LIAISON_DEMO_DATA": "off", "LIAISON_EXECUTION": " Verify ", "LIAISON_MAX_COST": "7"}
    )
    assert (settings.port, settings.load_demo, settings.execution) == (8000, False, "verify")
    assert settings.limits.max_cost == 7 and settings.limits.max_depth == 15
    assert "hunter2" not in repr(Settings.from_env({"DATABASE_URL": "postgresql://u:hunter2@db/liaison"}))
