"""Saved operations: stored and versioned, run by name (JSON, CSV, ETag), sent by hash."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import graphql
import pytest

from api.queries_cli import documents_at
from db import saved
from resolvers.documents import broken_documents, check_document
from schema import schema

from .support import LIAISON, bearer, service

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "queries"
SDL = Path(__file__).resolve().parent.parent / "schema.graphql"

POINTS = """query PointsOfDistrict($district: String!, $first: Int = 5) {
  district(code: $district) { name contactPoints(first: $first) { totalCount nodes { code name district { name } } } }
}"""
CASES = """query LatestCases($first: Int = 3) {
  cases(first: $first) { nodes { number consumerName consumerPhone } }
}"""


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def store(conn: asyncpg.Connection, document: str) -> saved.SavedOperation:
    checked = check_document(document, schema._schema)
    assert checked.ok, checked.errors
    assert checked.operation_name is not None
    operation, _ = await saved.save(conn, checked.operation_name, document, checked.operation_name, "tests")
    return operation


def test_only_valid_named_queries_may_be_saved() -> None:
    assert check_document(POINTS, schema._schema).ok
    refused = {
        "{ regions { code } }": "needs a name",
        "query A { regions { nope } }": "Cannot query field 'nope'",
        "query A { regions { code } } query B { regions { name } }": "exactly one operation",
        "query A { regions { code }": "Syntax Error",
    }
    for document, reason in refused.items():
        checked = check_document(document, schema._schema)
        assert not checked.ok and any(reason in e for e in checked.errors), (document, checked.errors)


async def test_versions_are_immutable_and_numbered(conn: asyncpg.Connection) -> None:
    first = await store(conn, POINTS)
    again, created = await saved.save(conn, first.name, POINTS, first.name, "tests")
    assert (first.version, again.version, created) == (1, 1, False)  # the same document: unchanged
    changed = POINTS.replace("$first: Int = 5", "$first: Int = 6")
    second = await store(conn, changed)
    assert second.version == 2 and second.sha256 == sha(changed)
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="immutable"):
        await conn.execute("UPDATE saved_operation SET document = 'query X { regions { code } }' WHERE version = 1")
    with pytest.raises(asyncpg.IntegrityConstraintViolationError, match="never deleted"):
        await conn.execute("DELETE FROM saved_operation")
    assert await saved.deprecate(conn, first.name, 2)
    latest, pinned = await saved.find(conn, first.name), await saved.find(conn, first.name, 2)
    assert latest is not None and latest.version == 1  # the latest not deprecated
    assert pinned is not None and pinned.version == 2  # still runnable when pinned
    assert await saved.restore(conn, first.name, 2)  # a deprecation made in error is undone
    assert not await saved.restore(conn, first.name, 2)  # only a deprecated version
    restored = await saved.find(conn, first.name)
    assert restored is not None and restored.version == 2 and restored.deprecated_at is None


async def test_run_by_name_over_get_and_post(db_dsn: str, conn: asyncpg.Connection) -> None:
    await store(conn, POINTS)
    with service(db_dsn, role=None) as client:
        response = client.get("/queries/PointsOfDistrict", params={"district": "310115", "first": "2"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["data"]["district"]["name"] == "浦东新区"
        assert len(body["data"]["district"]["contactPoints"]["nodes"]) == 2
        assert response.headers["x-saved-query-version"] == "1"
        posted = client.post("/queries/PointsOfDistrict", json={"district": "310115", "first": 2})
        assert posted.json()["data"] == body["data"]
        as_json = client.get("/queries/PointsOfDistrict", params={"variables": '{"district": "310115", "first": 2}'})
        assert as_json.json()["data"] == body["data"]
        for params, code in (
            ({"district": "310115", "first": "two"}, "BAD_USER_INPUT"),
            ({"district": "310115", "nope": "1"}, "BAD_USER_INPUT"),
            ((("district", "310115"), ("district", "310104")), "BAD_USER_INPUT"),
            ({"district": "310115", "version": "7"}, "SAVED_QUERY_NOT_FOUND"),
        ):
            refused = client.get("/queries/PointsOfDistrict", params=params)
            assert refused.status_code in (400, 404) and refused.json()["errors"][0]["extensions"]["code"] == code
        missing = client.get("/queries/PointsOfDistrict")  # a required variable not given
        assert missing.status_code == 400 and missing.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert client.get("/queries/NoSuchQuery").status_code == 404
        nested = '{"district": ' + "[" * 3000 + "]" * 3000 + "}"
        for deep in (
            client.post("/queries/PointsOfDistrict", content=nested, headers={"Content-Type": "application/json"}),
            client.get("/queries/PointsOfDistrict", params={"variables": nested}),
        ):
            assert deep.json()["errors"][0]["message"] == "The request's JSON is nested too deeply."


async def test_etag_and_not_modified(db_dsn: str, conn: asyncpg.Connection) -> None:
    await store(conn, POINTS)
    with service(db_dsn, role=None) as client:
        first = client.get("/queries/PointsOfDistrict", params={"district": "310101"})
        etag = first.headers["etag"]
        again = client.get("/queries/PointsOfDistrict", params={"district": "310101"}, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        other = client.get("/queries/PointsOfDistrict", params={"district": "310115"}, headers={"If-None-Match": etag})
        assert other.status_code == 200 and other.headers["etag"] != etag
        assert first.headers["cache-control"] == "public, max-age=300"  # ContactPoint's cache hint
        failed = client.get("/queries/PointsOfDistrict", params={"district": "310101", "first": "500"})
        assert failed.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
        assert failed.headers["cache-control"] == "no-store"


async def test_csv_export_with_chinese_text(db_dsn: str, conn: asyncpg.Connection) -> None:
    await store(conn, POINTS)
    with service(db_dsn, role=None) as client:
        response = client.get("/queries/PointsOfDistrict", params={"district": "310115", "first": "3", "format": "csv"})
        by_accept = client.get(
            "/queries/PointsOfDistrict", params={"district": "310115", "first": "3"}, headers={"Accept": "text/csv"}
        )
        expected = client.get("/queries/PointsOfDistrict", params={"district": "310115", "first": "3"}).json()
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content == by_accept.content
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    points = expected["data"]["district"]["contactPoints"]
    assert len(rows) == points["totalCount"] > 3  # the whole list, not the `first` asked
    assert rows[:3] == [{"code": n["code"], "name": n["name"], "district.name": "浦东新区"} for n in points["nodes"]]


async def test_roles_hold_through_saved_queries(db_dsn: str, conn: asyncpg.Connection) -> None:
    await store(conn, CASES)
    with service(db_dsn, role=None) as client:
        anonymous = client.get("/queries/LatestCases").json()
        assert anonymous["data"] == {"cases": None}
        assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["FORBIDDEN"]
        partner = client.get("/queries/LatestCases", headers=bearer("partner", regions=["330000"])).json()
        assert {e["extensions"]["code"] for e in partner["errors"]} == {"FORBIDDEN"}  # consumers' data
        internal = client.get("/queries/LatestCases", headers=bearer("internal")).json()
        assert "errors" not in internal
        for case in internal["data"]["cases"]["nodes"]:
            assert case["consumerName"] is None or case["consumerName"].endswith("*")
        response = client.get("/queries/LatestCases", headers={"Authorization": "Bearer lgk_nope"})
        assert response.status_code == 401


async def test_automatic_persisted_queries_round_trip(demo_dsn: str) -> None:
    query = "query Apq { regions { code name } }"
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha(query)}}
    with service(demo_dsn, role=None) as client:
        first = client.post("/graphql", json={"extensions": extensions}).json()
        assert first["errors"][0]["message"] == "PersistedQueryNotFound"
        assert first["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        registered = client.post("/graphql", json={"query": query, "extensions": extensions}).json()
        assert len(registered["data"]["regions"]) == 4
        by_hash = client.post("/graphql", json={"extensions": extensions}).json()
        assert by_hash["data"] == registered["data"]
        by_get = client.get("/graphql", params={"extensions": json.dumps(extensions)})
        assert by_get.json()["data"] == registered["data"]
        wrong = client.post("/graphql", json={"query": query + " ", "extensions": extensions}).json()
        assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_trusted_only_mode_runs_stored_documents_only(db_dsn: str, conn: asyncpg.Connection) -> None:
    operation = await store(conn, POINTS)
    variables = {"district": "310115"}
    with service(db_dsn, role=None, LIAISON_TRUSTED_DOCUMENTS_ONLY="1") as client:
        arbitrary = client.post("/graphql", json={"query": "{ regions { code } }"}).json()
        assert arbitrary["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED" and "data" not in arbitrary
        apq = "query Other { regions { code } }"
        registering = {"query": apq, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha(apq)}}}
        assert client.post("/graphql", json=registering).json()["errors"][0]["extensions"]["code"] == (
            "TRUSTED_DOCUMENT_REQUIRED"
        )
        stored = {"persistedQuery": {"version": 1, "sha256Hash": operation.sha256}}
        body = client.post("/graphql", json={"extensions": stored, "variables": variables}).json()
        assert body["data"]["district"]["name"] == "浦东新区"
        by_id = client.post("/graphql", json={"documentId": f"sha256:{operation.sha256}", "variables": variables})
        assert by_id.json()["data"] == body["data"]
        assert client.post("/graphql", json={"query": POINTS, "variables": variables}).json()["data"] == body["data"]
        assert client.get("/queries/PointsOfDistrict", params=variables).json()["data"] == body["data"]


async def test_a_trusted_only_credential(db_dsn: str, conn: asyncpg.Connection) -> None:
    operation = await store(conn, POINTS)
    with service(db_dsn, role=None) as client:
        held = bearer("internal", trusted_only=True)
        refused = client.post("/graphql", json={"query": "{ regions { code } }"}, headers=held).json()
        assert refused["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_REQUIRED"
        allowed = {
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": operation.sha256}},
            "variables": {"district": "310101"},
        }
        assert client.post("/graphql", json=allowed, headers=held).json()["data"]["district"]["name"] == "黄浦区"
        assert client.post("/graphql", json={"query": "{ regions { code } }"}).json()["data"]  # others unaffected


async def test_revalidation_reports_what_a_schema_change_broke(conn: asyncpg.Connection) -> None:
    await store(conn, POINTS)
    active = [(f"{o.name} v{o.version}", o.document) for o in await saved.active_operations(conn)]
    assert broken_documents(active, schema._schema) == []
    sdl = SDL.read_text()
    without_name = sdl.replace('  """Chinese name."""\n  name: String!\n', "")  # a field removed
    assert without_name != sdl
    changed = graphql.build_ast_schema(graphql.parse(without_name), assume_valid_sdl=True)
    broken = broken_documents(active, changed)
    assert [label for label, _ in broken] == ["PointsOfDistrict v1"]
    assert "Cannot query field 'name'" in broken[0][1][0]


def test_the_command_line_pushes_runs_and_checks(db_dsn: str, tmp_path: Path) -> None:
    env = {**os.environ, "DATABASE_URL": db_dsn, "LIAISON_DEMO_DATA": "0"}

    def liaison(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(LIAISON), "queries", *args], env=env, capture_output=True, text=True, timeout=120)

    pushed = liaison("push", str(EXAMPLES), "--owner", "reports team")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.count("saved ") == len(list(EXAMPLES.glob("*.graphql")))
    examples = len(list(EXAMPLES.glob("*.graphql")))
    assert liaison("push", str(EXAMPLES), "--owner", "reports team").stdout.count("unchanged ") == examples
    for wrong in (("--var", "first=abc"), ("--variables", "{nope")):
        refused_var = liaison("run", "FiveStarDirectory", *wrong)
        assert refused_var.returncode == 2 and "Traceback" not in refused_var.stderr, refused_var.stderr
        assert len(refused_var.stderr.strip().splitlines()) == 1, refused_var.stderr
    exported = liaison("run", "FiveStarDirectory", "--var", "first=5", "--format", "csv")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout.removeprefix("\ufeff"))))
    assert len(rows) == 5 and all(row["district.region.name"] == "上海市" for row in rows)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(
        '{"format": "apollo-persisted-query-manifest", "version": 1, "operations": ['
        '{"id": "x", "name": "Broken", "type": "query", "body": "query Broken { regions { nope } }"}]}'
    )
    refused = liaison("push", str(manifest), "--owner", "t")
    assert refused.returncode == 1 and "Cannot query field 'nope'" in refused.stderr
    checked = liaison("check")
    assert checked.returncode == 0 and f"{examples} of {examples} saved versions validate" in checked.stdout
    listed = liaison("list")
    assert "FiveStarDirectory" in listed.stdout and "reports team" in listed.stdout


def test_a_codegen_manifest_is_refused_unless_its_keys_are_the_sha256_the_service_looks_up(tmp_path: Path) -> None:
    """The client sends a manifest's key as the document's id; saving a body under another
    hash (GraphQL Codegen's ``hashAlgorithm: 'sha1'``, an edited body) would push cleanly and
    leave every request of that client ``PERSISTED_QUERY_NOT_FOUND``."""
    body = "query Regions { regions { code } }"
    manifest = tmp_path / "persisted-documents.json"
    for key in (f"sha256:{sha(body)}", sha(body), "Regions"):  # the preset's, bare hex, a plain label
        manifest.write_text(json.dumps({key: body}))
        assert documents_at(manifest) == [(f"{manifest}:{key}", body)]
    sha1 = hashlib.sha1(body.encode()).hexdigest()
    for key in (f"sha1:{sha1}", sha1, f"sha256:{sha(body + ' ')}", sha(body + " ")):
        manifest.write_text(json.dumps({f"sha256:{sha(body)}": body, key: body}))
        with pytest.raises(SystemExit, match=f"{key}: not the SHA-256 of its document.*hashAlgorithm"):
            documents_at(manifest)


SAVE = """mutation ($document: String!) {
  savedOperationSave(input: {document: $document, description: "from a test"}) {
    created savedOperation { name version sha256 owner } userErrors { code message field }
  }
}"""


async def test_admins_manage_saved_queries_over_graphql(db_dsn: str) -> None:
    with service(db_dsn, role=None) as client:
        admin = bearer("admin", sub="ops-lead")

        def call(query: str, headers: dict[str, str], **variables: object) -> dict[str, Any]:
            return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers).json()

        saved_ = call(SAVE, admin, document=POINTS)["data"]["savedOperationSave"]
        assert saved_["created"] and saved_["userErrors"] == []
        assert saved_["savedOperation"] == {
            "name": "PointsOfDistrict",
            "version": 1,
            "sha256": sha(POINTS),
            "owner": "token:ops-lead",
        }
        again = call(SAVE, admin, document=POINTS)["data"]["savedOperationSave"]
        assert again["created"] is False and again["savedOperation"]["version"] == 1
        invalid = call(SAVE, admin, document="query Bad { regions { nope } }")["data"]["savedOperationSave"]
        assert invalid["savedOperation"] is None and invalid["userErrors"][0]["code"] == "INVALID_DOCUMENT"
        listed = call("{ savedOperations { name version } }", admin)["data"]["savedOperations"]
        assert listed == [{"name": "PointsOfDistrict", "version": 1}]
        deprecate = 'mutation { savedOperationDeprecate(input: {name: "PointsOfDistrict", version: 1}) { savedOperation { deprecatedAt } userErrors { code } } }'
        assert call(deprecate, admin)["data"]["savedOperationDeprecate"]["savedOperation"]["deprecatedAt"]
        assert call(deprecate, admin)["data"]["savedOperationDeprecate"]["userErrors"] == [{"code": "NOT_FOUND"}]
        assert call("{ savedOperations { name } }", admin)["data"]["savedOperations"] == []
        restore = 'mutation { savedOperationRestore(input: {name: "PointsOfDistrict", version: 1}) { savedOperation { version deprecatedAt } userErrors { code } } }'
        restored = call(restore, admin)["data"]["savedOperationRestore"]
        assert restored == {"savedOperation": {"version": 1, "deprecatedAt": None}, "userErrors": []}
        assert call(restore, admin)["data"]["savedOperationRestore"]["userErrors"] == [{"code": "NOT_FOUND"}]
        assert call("{ savedOperations { name } }", admin)["data"]["savedOperations"] == [{"name": "PointsOfDistrict"}]
        assert call(deprecate, admin)["data"]["savedOperationDeprecate"]["savedOperation"]["deprecatedAt"]
        for role in ("internal", "case_officer", None):
            headers = bearer(role, **({"regions": ["310000"]} if role == "case_officer" else {})) if role else {}
            body = call(SAVE, headers, document=POINTS)
            assert (
                body["data"] == {"savedOperationSave": None} and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            )
            assert body["errors"][0]["message"].startswith("Changing saved queries needs one of the roles admin")
        by_get = client.get(
            "/graphql", params={"query": SAVE, "variables": json.dumps({"document": POINTS})}, headers=admin
        )
        assert by_get.status_code == 405  # mutations only by POST


async def test_a_restore_undoes_a_deprecation_only_for_a_document_that_still_validates(
    db_dsn: str, conn: asyncpg.Connection
) -> None:
    """A version deprecated in error comes back as the default (CLI or GraphQL), but not one
    that the schema has moved past: it would fail every run."""
    good = await store(conn, POINTS)
    gone, _ = await saved.save(conn, "Gone", "query Gone { regions { noLongerAField } }", "Gone", "tests")
    for operation in (good, gone):
        assert await saved.deprecate(conn, operation.name, operation.version)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(LIAISON), "queries", *args]
        return subprocess.run(command, env={"DATABASE_URL": db_dsn}, capture_output=True, text=True, check=False)

    done = cli("restore", good.name, "1")
    assert done.returncode == 0 and done.stdout.strip() == f"restored {good.name} v1", done
    assert (await saved.find(conn, good.name)) == good
    refused = cli("restore", good.name, "1")
    assert refused.returncode == 1 and "no deprecated version 1" in refused.stderr

    with service(db_dsn, role=None) as client:
        restore = 'mutation { savedOperationRestore(input: {name: "Gone", version: 1}) { savedOperation { version } userErrors { code message } } }'
        answer = client.post("/graphql", json={"query": restore}, headers=bearer("admin")).json()
    payload = answer["data"]["savedOperationRestore"]
    assert payload["savedOperation"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["INVALID_DOCUMENT"]
    assert "noLongerAField" in payload["userErrors"][0]["message"]
    assert (await saved.find(conn, "Gone")) is None  # still deprecated


@pytest.mark.parametrize("given", ["1_000", "\uff11\uff10", "\u0661", " 5", "0x10", "nan", "inf", "1e400"])
def test_a_number_in_a_query_parameter_is_ascii_digits(given: str) -> None:
    """Python's int() and float() read ``1_000``, other scripts' digits, spaces and ``nan``."""
    from graphql import GraphQLFloat, GraphQLInt

    from api.admission import Refused
    from api.saved_queries import coerce_parameter

    for number in (GraphQLInt, GraphQLFloat):
        with pytest.raises(Refused) as refused:
            coerce_parameter([given], number, "first")
        assert refused.value.code == "BAD_USER_INPUT"


def test_a_number_in_a_query_parameter_reads_as_graphql_writes_it() -> None:
    from graphql import GraphQLFloat, GraphQLInt

    from api.saved_queries import coerce_parameter

    assert [coerce_parameter([v], GraphQLInt, "n") for v in ("20", "-3", "+4")] == [20, -3, 4]
    assert [coerce_parameter([v], GraphQLFloat, "x") for v in ("2.5", "-1e3", "7")] == [2.5, -1000.0, 7.0]
