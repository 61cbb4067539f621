"""This service as a federation subgraph under a real router, next to a partner's subgraph.

docker/partner is what a partner province copies to join: Zhejiang's subgraph (return desks
at its stores, extending our Store and pointing at our District and ContactPoint), a
composition check with Apollo's and The Guild's composers, and an @apollo/gateway router.
Here its schema is composed with ours, and queries crossing both subgraphs go through the
router to `liaison serve` and `node server.mjs`. The router logs one JSON line per subgraph
request, from which the batching of `_entities` is read.

Node packages are pinned by docker/partner/package-lock.json; skipped only where node or npm
is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from .support import bearer, free_port, live_service, npm_ci

ROOT = Path(__file__).resolve().parent.parent
PARTNER = ROOT / "docker" / "partner"
OUR_SDL = ROOT / "schema.graphql"
PARTNER_SDL = PARTNER / "zhejiang.graphql"

NODE, NPM = shutil.which("node"), shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None, reason="node and npm are needed for the partner subgraph and router (docker/partner)"
)

DESK_STORES = {"ST330100-00001", "ST330200-00001", "ST330100-00038", "ST330200-00044", "ST330400-00056"}
"""The Zhejiang stores server.mjs has desks at."""

LATEST_ZHEJIANG_RETURNS = [
    ("YRD-2021-001484", "ST330100-00038"),
    ("YRD-2021-001481", "ST330200-00044"),
    ("YRD-2021-001476", "ST330400-00056"),
]
"""The three latest cross-store returns brought back in Zhejiang, with their return stores."""

DESKS = """{ zhejiangReturnDesks { id openingHours
  store { code name enterprise { name } }
  city { code name region { name } }
  mediatingContactPoint { code name district { name } } } }"""

RETURNS = """{ crossStoreReturns(first: 3, filter: {returnRegionCodes: ["330000"]}) {
  nodes { code returnStore { code name returnDesk { openingHours } } } } }"""


@pytest.fixture(scope="module")
def partner_project() -> Path:
    """docker/partner with its node_modules as its package-lock.json pins them."""
    npm_ci(PARTNER)
    return PARTNER


def compose(*args: str | Path) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    assert NODE is not None
    run = subprocess.run(
        [NODE, "compose.mjs", *map(str, args)], cwd=PARTNER, capture_output=True, text=True, timeout=60, check=False
    )
    lines = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    return run, lines


def test_the_partner_schema_composes_with_ours(partner_project: Path, tmp_path: Path) -> None:
    supergraph = tmp_path / "supergraph.graphql"
    run, results = compose(OUR_SDL, PARTNER_SDL, "--out", supergraph)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert [r["composer"] for r in results] == ["@apollo/composition", "@theguild/federation-composition"], report
    for result in results:
        assert result["ok"] and result["errors"] == [], report
    print("composition hints:", results[0]["hints"])  # shown with -s or -rP
    sdl = supergraph.read_text()
    assert '@join__graph(name: "liaison"' in sdl and '@join__graph(name: "zhejiang"' in sdl
    assert "returnDesk: ReturnDesk @join__field(graph: ZHEJIANG)" in sdl

    # The negative control: a partner whose Store key has another type than ours must fail.
    text = PARTNER_SDL.read_text()
    store = text.index("type Store @key")
    key = text.index("code: String!", store)
    conflicting = tmp_path / "conflicting.graphql"
    conflicting.write_text(text[:key] + "code: Int!" + text[key + len("code: String!") :])
    run, results = compose(OUR_SDL, conflicting, "--out", tmp_path / "never.graphql")
    report = run.stdout + run.stderr
    assert run.returncode == 1, report
    assert len(results) == 2, report
    for result in results:
        assert not result["ok"], report
        assert any(e["code"] == "FIELD_TYPE_MISMATCH" and '"Store.code"' in e["message"] for e in result["errors"]), (
            report
        )
    assert not (tmp_path / "never.graphql").exists()


@dataclass
class Child:
    """A node process started by the test, its stdout and stderr in files under the test's tmp_path."""

    name: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def logs(self) -> str:
        return (
            f"--- {self.name} stdout ---\n{self.stdout.read_text()[-4000:]}\n"
            f"--- {self.name} stderr ---\n{self.stderr.read_text()[-4000:]}\n"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def node_process(name: str, script: str, log_dir: Path, **env: str) -> Iterator[Child]:
    assert NODE is not None
    stdout, stderr = log_dir / f"{name}.out", log_dir / f"{name}.err"
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen([NODE, script], cwd=PARTNER, env={**os.environ, **env}, stdout=out, stderr=err)
    child = Child(name, process, stdout, stderr)
    try:
        yield child
    finally:
        child.stop()


def wait_until_answering(url: str, child: Child, logs: Callable[[], str], timeout: float = 30) -> None:
    """Poll ``url`` with `{ __typename }` until it answers 200, the child exits, or time runs out."""
    deadline = time.monotonic() + timeout
    while True:
        assert child.process.poll() is None, f"{child.name} exited with {child.process.returncode}\n{logs()}"
        try:
            if httpx2.post(url, json={"query": "{ __typename }"}, timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        assert time.monotonic() < deadline, f"{child.name} did not answer at {url} within {timeout}s\n{logs()}"
        time.sleep(0.1)


def post(url: str, query: str, headers: dict[str, str] | None = None, **variables: Any) -> dict[str, Any]:
    response = httpx2.post(url, json={"query": query, "variables": variables}, headers=headers or {}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


ENTITIES = """query ($representations: [_Any!]!) { _entities(representations: $representations) {
  ... on Store { code name enterprise { name } }
  ... on District { code name region { name } }
  ... on ContactPoint { code name district { name } } } }"""


def test_queries_across_our_subgraph_and_a_partners_through_the_router(
    partner_project: Path, db_dsn: str, tmp_path: Path
) -> None:
    secret = secrets.token_urlsafe(24)
    children: list[Child] = []

    def logs() -> str:
        serve = "".join(f"--- {p.name} ---\n{p.read_text()[-4000:]}\n" for p in tmp_path.glob("serve-*.log"))
        return serve + "".join(child.logs() for child in children)

    with contextlib.ExitStack() as stack:
        ours = stack.enter_context(live_service(db_dsn, tmp_path, LIAISON_ROUTER_SECRET=secret)) + "/graphql"
        partner_port, router_port = free_port(), free_port()
        partner = stack.enter_context(
            node_process("zhejiang", "server.mjs", tmp_path, PORT=str(partner_port), ROUTER_SECRET=secret)
        )
        children.append(partner)
        partner_url = f"http://127.0.0.1:{partner_port}/"
        wait_until_answering(partner_url, partner, logs)
        router = stack.enter_context(
            node_process(
                "router",
                "gateway.mjs",
                tmp_path,
                PORT=str(router_port),
                ROUTER_SECRET=secret,
                LIAISON_URL=ours,
                ZHEJIANG_URL=partner_url,
            )
        )
        children.append(router)
        router_url = f"http://127.0.0.1:{router_port}/"
        wait_until_answering(router_url, router, logs)

        fetches_seen = 0

        def fetches() -> list[dict[str, Any]]:
            """The router's subgraph requests since the last call."""
            nonlocal fetches_seen
            lines = [json.loads(line) for line in router.stdout.read_text().splitlines() if line.startswith("{")]
            new, fetches_seen = lines[fetches_seen:], len(lines)
            return new

        # The router composed over `_service`, which needs the secret: both subgraphs answered it.
        loaded = fetches()
        assert sorted(f["subgraph"] for f in loaded if f["kind"] == "loading schema") == ["liaison", "zhejiang"], logs()

        # (a) A partner root field, the rest of each desk's store, city and mediator from us.
        body = post(router_url, DESKS)
        assert "errors" not in body, f"{body}\n{logs()}"
        desks = body["data"]["zhejiangReturnDesks"]
        assert {d["store"]["code"] for d in desks} == DESK_STORES, f"{body}\n{logs()}"
        seen = fetches()

        stores = {d["store"]["code"]: d["store"] for d in desks}
        cities = {d["city"]["code"]: d["city"] for d in desks}
        mediators = {d["mediatingContactPoint"]["code"]: d["mediatingContactPoint"] for d in desks}
        representations = (
            [{"__typename": "Store", "code": code} for code in stores]
            + [{"__typename": "District", "code": code} for code in cities]
            + [{"__typename": "ContactPoint", "code": code} for code in mediators]
        )
        direct = post(ours, ENTITIES, {"X-Router-Secret": secret}, representations=representations)
        assert "errors" not in direct, direct
        expected = {
            (r["__typename"], r["code"]): e for r, e in zip(representations, direct["data"]["_entities"], strict=True)
        }
        for desk in desks:
            # What the router says of our objects is what we say of them, and they are there.
            assert desk["store"] == expected["Store", desk["store"]["code"]], desk
            assert desk["city"] == expected["District", desk["city"]["code"]], desk
            assert desk["mediatingContactPoint"] == expected["ContactPoint", desk["mediatingContactPoint"]["code"]]
            assert desk["store"]["name"] and desk["store"]["enterprise"]["name"], desk
            assert desk["city"]["region"] == {"name": "浙江省"}, desk
            assert desk["store"]["code"][2:8] == desk["city"]["code"], desk  # the store is in that city
            assert desk["mediatingContactPoint"]["code"].startswith("CP31"), desk  # a Shanghai one
            assert desk["openingHours"], desk
        gudun = next(d for d in desks if d["store"]["code"] == "ST330100-00001")
        assert gudun["store"]["name"] == "红星美凯龙杭州古墩店"
        assert gudun["city"]["name"] == "杭州市"

        # Batched: the partner's root fetch, then one _entities request per path (stores,
        # cities, mediators, planned side by side), each carrying every desk's reference.
        # (@apollo/gateway does not deduplicate them: 5 cities for 3 distinct codes.)
        n = len(desks)
        assert [(f["subgraph"], f["entities"]) for f in seen if f["subgraph"] == "zhejiang"] == [("zhejiang", None)], (
            f"{seen}\n{logs()}"
        )
        ours_entities = [f for f in seen if f["subgraph"] == "liaison"]
        assert all(f["entities"] is not None for f in ours_entities), f"{seen}\n{logs()}"
        assert sorted(json.dumps(f["typenames"]) for f in ours_entities) == sorted(
            json.dumps({t: n}) for t in ("Store", "District", "ContactPoint")
        ), f"{seen}\n{logs()}"
        assert sum(f["entities"] for f in ours_entities) == 3 * n, f"{seen}\n{logs()}"

        # (b) Our returns, each return store's desk from the partner, with an internal credential.
        body = post(router_url, RETURNS, bearer("internal"))
        assert "errors" not in body, f"{body}\n{logs()}"
        nodes = body["data"]["crossStoreReturns"]["nodes"]
        assert [(r["code"], r["returnStore"]["code"]) for r in nodes] == LATEST_ZHEJIANG_RETURNS, f"{body}\n{logs()}"
        hours = {d["store"]["code"]: d["openingHours"] for d in desks}
        for node in nodes:
            store = node["returnStore"]
            assert store["returnDesk"] == {"openingHours": hours[store["code"]]}, node
        ours_direct = post(ours, RETURNS.replace("returnDesk { openingHours }", ""), bearer("internal"))
        assert [
            {"code": r["code"], "returnStore": {k: v for k, v in r["returnStore"].items() if k != "returnDesk"}}
            for r in nodes
        ] == ours_direct["data"]["crossStoreReturns"]["nodes"]
        seen = fetches()
        assert [(f["subgraph"], f["entities"], f["authorization"]) for f in seen] == [
            ("liaison", None, True),  # the credential went to us ...
            ("zhejiang", 3, False),  # ... not to the partner; one request for the three stores
        ], f"{seen}\n{logs()}"
        assert seen[1]["typenames"] == {"Store": 3}, f"{seen}\n{logs()}"

        # (c) The same without a credential: our refusal comes through the router.
        body = post(router_url, RETURNS)
        assert body["data"] == {"crossStoreReturns": None}, f"{body}\n{logs()}"
        assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["crossStoreReturns"], "FORBIDDEN")]
        seen = fetches()
        assert [(f["subgraph"], f["entities"], f["authorization"]) for f in seen] == [("liaison", None, False)], (
            f"{seen}\n{logs()}"
        )

        # Past the router, without the shared secret, `_entities` and `_service` are refused.
        store = [{"__typename": "Store", "code": "ST330100-00038"}]
        for url, query in [
            (ours, ENTITIES),
            (ours, "{ _service { sdl } }"),
            (
                partner_url,
                "query ($representations: [_Any!]!) { _entities(representations: $representations) { __typename } }",
            ),
        ]:
            for headers in ({}, {"X-Router-Secret": "not " + secret}, bearer("internal")):
                refused = post(url, query, headers, representations=store)
                assert refused.get("data") is None, (url, headers, refused)
                assert [e["extensions"]["code"] for e in refused["errors"]] == ["FORBIDDEN"], (url, headers, refused)
