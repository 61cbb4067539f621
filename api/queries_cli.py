"""``liaison queries …``: push, list, show, deprecate, restore, check and run saved operations."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from pathlib import Path
from typing import Any

import asyncpg
from starlette.requests import Request

from db import saved
from db.access import Role, Viewer
from db.pool import open_database
from resolvers.context import Context
from resolvers.documents import broken_documents, check_document
from resolvers.private_apis import graphql_schema
from schema import schema
from schema.compiled import plain_data
from schema.engine import QueryEngine

from .admission import Refused
from .budget import InProcessBudget
from .exports import csv_of
from .saved_queries import coerce_parameter, declared_variables
from .settings import Settings
from .tables import NotExportable, tables_of

__all__ = ["add_parser", "run"]


def add_parser(commands: Any) -> None:
    queries = commands.add_parser("queries", help="saved operations: push, list, show, deprecate, restore, check, run")
    actions = queries.add_subparsers(dest="action", required=True, metavar="ACTION")
    push = actions.add_parser(
        "push", help="save a folder of .graphql files, one file, or a persisted-operations manifest"
    )
    push.add_argument("path", type=Path)
    push.add_argument("--owner", required=True, help="who answers for these queries, e.g. 'reports team'")
    push.add_argument("--description", default="", help="what they are for")
    actions.add_parser("list", help="every saved version")
    show = actions.add_parser("show", help="one saved query's document")
    show.add_argument("name")
    show.add_argument("--version", type=int)
    deprecate = actions.add_parser("deprecate", help="retire a version: no longer the default")
    deprecate.add_argument("name")
    deprecate.add_argument("version", type=int)
    restore = actions.add_parser("restore", help="undo a deprecation, if the version still validates")
    restore.add_argument("name")
    restore.add_argument("version", type=int)
    actions.add_parser("check", help="re-validate every active version against the current schema")
    run_ = actions.add_parser("run", help="run a saved query and print its result (JSON or CSV)")
    run_.add_argument("name")
    run_.add_argument("--version", type=int)
    run_.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a variable (repeatable)")
    run_.add_argument("--variables", help="all variables as one JSON object")
    run_.add_argument("--format", choices=["json", "csv"], default="json")
    run_.add_argument("--role", default="internal", choices=[r.value for r in Role if r is not Role.ANONYMOUS])
    run_.add_argument("--region", action="append", default=[], help="scope of a partner or case officer")
    run_.add_argument("--district", action="append", default=[], help="scope of a case officer")


def documents_at(path: Path) -> list[tuple[str, str]]:
    """(where, document) for a folder of .graphql files, one file, or a manifest.

    Manifests: Apollo's persisted query manifest (``{"format": "apollo-persisted-query-
    manifest", "operations": [{"name", "body"}]}``) and GraphQL Codegen's persisted
    documents (``{"<hash>": "<document>"}``), refused whole when a hash is not the SHA-256
    its client will be looked up by.
    """
    if path.is_dir():
        return [(str(p), p.read_text()) for p in sorted(path.glob("*.graphql"))]
    if path.suffix == ".json":
        manifest = json.loads(path.read_text())
        if isinstance(manifest, dict) and isinstance(manifest.get("operations"), list):
            return [(f"{path}:{op.get('name')}", op["body"]) for op in manifest["operations"]]
        if isinstance(manifest, dict) and all(isinstance(v, str) for v in manifest.values()):
            for key, body in manifest.items():
                _check_hash_key(path, key, body)
            return [(f"{path}:{key}", body) for key, body in manifest.items()]
        raise SystemExit(f"{path}: neither an Apollo persisted query manifest nor a GraphQL Codegen one")
    return [(str(path), path.read_text())]


_HASH_KEY = re.compile(r"(?:(?P<algorithm>[a-z0-9-]+):)?(?P<hex>[0-9a-f]{32,128})")


def _check_hash_key(path: Path, key: str, body: str) -> None:
    """A key that is a hash is what the client will send: it must be the body's SHA-256,
    the only hash the service looks documents up by. A plain label is left alone."""
    hashed = _HASH_KEY.fullmatch(key)
    if hashed and (hashed["algorithm"] or "sha256", hashed["hex"]) != ("sha256", saved.document_sha256(body)):
        raise SystemExit(
            f"{path}: {key}: not the SHA-256 of its document, which is what this service looks documents up by:"
            " generate the manifest with persistedDocuments.hashAlgorithm 'sha256' and leave the bodies as written"
        )


async def _push(conn: asyncpg.Connection, args: argparse.Namespace) -> int:
    failed = 0
    for where, document in documents_at(args.path):
        checked = check_document(document, graphql_schema(schema))
        if not checked.ok or checked.operation_name is None:
            failed += 1
            print(f"refused {where}:", *checked.errors, sep="\n  ", file=sys.stderr)
            continue
        operation, created = await saved.save(
            conn, checked.operation_name, document, checked.operation_name, args.owner, args.description
        )
        print(f"{'saved' if created else 'unchanged'} {operation.name} v{operation.version} ({operation.sha256[:12]})")
    return 1 if failed else 0


def _variables(args: argparse.Namespace, declared: dict[str, Any]) -> dict[str, Any]:
    """``--variables`` and each ``--var``, read as GET /queries reads its parameters."""
    try:
        variables = json.loads(args.variables) if args.variables else {}
    except (ValueError, RecursionError):
        raise Refused(400, "BAD_REQUEST", "--variables must be a JSON object") from None
    if not isinstance(variables, dict):
        raise Refused(400, "BAD_REQUEST", "--variables must be a JSON object")
    for item in args.var:
        name, _, value = item.partition("=")
        if name not in declared:
            raise Refused(400, "BAD_USER_INPUT", f"the query has no variable {name!r}")
        variables[name] = coerce_parameter([value], declared[name], name)
    return variables


async def _run(dsn: str, args: argparse.Namespace) -> int:
    db = await open_database(dsn, max_size=2, timeout=30)
    try:
        operation = await saved.find(db, args.name, args.version)
        if operation is None:
            print(
                f"no saved query {args.name!r}" + (f" version {args.version}" if args.version else ""), file=sys.stderr
            )
            return 1
        engine = QueryEngine(schema)
        try:
            variables = _variables(args, declared_variables(operation.document, engine.caches))
        except Refused as refused:
            print(f"liaison queries run: {refused}", file=sys.stderr)
            return 2
        settings = Settings.from_env()
        viewer = Viewer(Role(args.role), "cli", tuple(args.region), tuple(args.district))
        request = Request({"type": "http", "method": "POST", "path": "/cli", "headers": [], "query_string": b""})
        budget = InProcessBudget(10**12, 3600)
        context = Context(request, None, db, viewer, settings.limits, budget, engine, settings.execution)
        result = await schema.execute(
            operation.document, variables, context_value=context, operation_name=operation.operation_name
        )
    finally:
        await db.close()
    if result.errors:
        print(json.dumps([e.formatted for e in result.errors], ensure_ascii=False, indent=2), file=sys.stderr)
    if args.format == "csv" and not result.errors:
        try:
            tables = tables_of(
                schema._schema, operation.document, operation.operation_name, settings.limits.max_page_size
            )
        except NotExportable as exc:
            print(exc, file=sys.stderr)
            return 1
        if len(tables) > 1:
            names = ", ".join(t.name for t in tables)
            print(f"the query has several lists ({names}): export it over HTTP, as a ZIP or XLSX", file=sys.stderr)
            return 1
        sys.stdout.write(csv_of(tables[0], plain_data(result.data)))
    else:
        print(json.dumps({"data": plain_data(result.data)}, ensure_ascii=False, indent=2))
    return 1 if result.errors else 0


async def _main(dsn: str, args: argparse.Namespace) -> int:
    if args.action == "run":
        return await _run(dsn, args)
    conn = await asyncpg.connect(dsn)
    try:
        if args.action == "push":
            return await _push(conn, args)
        if args.action == "list":
            for op in await saved.list_operations(conn):
                state = "deprecated" if op.deprecated_at else "active"
                print(f"{op.name:<32} v{op.version:<3} {state:<10} {op.sha256[:12]}  {op.owner}  {op.description}")
            return 0
        if args.action == "show":
            found = await saved.find(conn, args.name, args.version)
            if found is None:
                print(f"no saved query {args.name!r}", file=sys.stderr)
                return 1
            print(
                f"# {found.name} v{found.version}, sha256 {found.sha256}, by {found.owner}, {found.created_at:%Y-%m-%d}"
            )
            print(found.document)
            return 0
        if args.action == "deprecate":
            if not await saved.deprecate(conn, args.name, args.version):
                print(f"no active version {args.version} of {args.name!r}", file=sys.stderr)
                return 1
            print(f"deprecated {args.name} v{args.version}")
            return 0
        if args.action == "restore":
            found = await saved.find(conn, args.name, args.version)
            if found is None or found.deprecated_at is None:
                print(f"no deprecated version {args.version} of {args.name!r}", file=sys.stderr)
                return 1
            broken = broken_documents([(found.label, found.document)], graphql_schema(schema))
            if broken:
                print(f"not restored: {found.label} no longer validates:", *broken[0][1], sep="\n  ", file=sys.stderr)
                return 1
            await saved.restore(conn, args.name, args.version)
            print(f"restored {args.name} v{args.version}")
            return 0
        active = await saved.active_operations(conn)
        broken = broken_documents([(o.label, o.document) for o in active], graphql_schema(schema))
        for label, errors in broken:
            print(f"broken {label}:", *errors, sep="\n  ")
        print(f"{len(active) - len(broken)} of {len(active)} saved versions validate")
        return 1 if broken else 0
    finally:
        await conn.close()


def run(dsn: str, args: argparse.Namespace) -> int:
    return asyncio.run(_main(dsn, args))
