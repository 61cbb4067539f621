"""docker/compose.yaml's topology as plain processes (docker/topology), queried through Hive Gateway.

The script starts `liaison serve`, Zhejiang's subgraph (docker/partner/server.mjs) and Hive
Gateway (docker/hive) in front of both, as compose does; here over the test's database. A
query starting in Zhejiang's subgraph and one starting in ours cross both through the
gateway, whose one JSON line per subgraph request shows which headers went where: the
caller's credential to liaison-graph only, the router secret to both. Ctrl-C stops all three.

Node packages are pinned by docker/hive/package-lock.json (the script installs them when
missing: about 500 MB, two minutes). Skipped where node or npm is missing, except in CI.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .support import JWT_ENV, bearer, free_port, wait_until
from .test_federation_gateway import DESK_STORES, DESKS, ENTITIES, LATEST_ZHEJIANG_RETURNS, RETURNS, post

ROOT = Path(__file__).resolve().parent.parent
TOPOLOGY = ROOT / "docker" / "topology"

pytestmark = pytest.mark.skipif(
    (shutil.which("node") is None or shutil.which("npm") is None) and not os.environ.get("CI"),
    reason="node and npm are needed for the partner subgraph and Hive Gateway (docker/topology)",
)


@dataclass
class Topology:
    """docker/topology running; its output (each process's lines prefixed by its name) in ``log``."""

    process: subprocess.Popen[bytes]
    log: Path
    secret: str
    ports: dict[str, int]

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.ports['GATEWAY_PORT']}/graphql"

    @property
    def liaison(self) -> str:
        return f"http://127.0.0.1:{self.ports['LIAISON_PORT']}/graphql"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def requests(self) -> list[dict[str, Any]]:
        """The gateway's subgraph requests so far, as it logged them."""
        prefix = "gateway | {"
        return [json.loads(line[len(prefix) - 1 :]) for line in self.output().splitlines() if line.startswith(prefix)]


@pytest.fixture
def topology(db_dsn: str, tmp_path: Path) -> Iterator[Topology]:
    ports = {name: free_port() for name in ("GATEWAY_PORT", "LIAISON_PORT", "ZHEJIANG_PORT")}
    secret = secrets.token_urlsafe(24)
    env = {**os.environ, **JWT_ENV, **{k: str(v) for k, v in ports.items()}}
    env.update(DATABASE_URL=db_dsn, LIAISON_DEMO_DATA="0", ROUTER_SECRET=secret)
    log = tmp_path / "topology.log"
    with open(log, "wb") as out:
        # SIGINT restored: a background job of a shell starts with it ignored, which the
        # script would inherit and then could not trap (Ctrl-C below would not stop it).
        process = subprocess.Popen(
            ["env", "--default-signal=INT", str(TOPOLOGY)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: a timeout below kills what it started too
        )
    running = Topology(process, log, secret, ports)
    try:
        # The first run installs docker/hive's packages (npm ci) before starting anything.
        deadline = time.monotonic() + 600
        while "topology ready:" not in running.output():
            assert process.poll() is None, f"docker/topology exited with {process.returncode}\n{running.output()}"
            assert time.monotonic() < deadline, f"docker/topology not ready in time\n{running.output()}"
            time.sleep(0.2)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def test_hive_gateway_serves_both_subgraphs_and_gives_the_credential_to_liaison_only(topology: Topology) -> None:
    logs = topology.output
    ready = next(line for line in logs().splitlines() if line.startswith("topology ready:"))
    assert topology.gateway in ready and topology.liaison in ready, ready

    # It composed the supergraph from both subgraphs' `_service`, which need the secret.
    def loaded() -> list[dict[str, Any]]:
        return [r for r in topology.requests() if r["kind"] == "loading schema"]

    wait_until(lambda: len(loaded()) >= 2, 10, f"the gateway's schema requests\n{logs()}")
    assert sorted(r["subgraph"] for r in loaded()[:2]) == ["liaison", "zhejiang"], logs()
    assert all(r["routerSecret"] for r in loaded()), logs()
    seen = 0

    def requests(count: int) -> list[tuple[str, int | None, bool]]:
        """The next ``count`` subgraph requests of queries: subgraph, representations, credential."""
        nonlocal seen

        def queries() -> list[dict[str, Any]]:
            return [r for r in topology.requests() if r["kind"] == "request"]

        # Its lines reach the log through a pipe, possibly just after the response.
        wait_until(lambda: len(queries()) >= seen + count, 10, f"{count} more subgraph requests\n{logs()}")
        new, seen = queries()[seen:], seen + count
        assert all(r["routerSecret"] for r in new), f"{new}\n{logs()}"
        return [(r["subgraph"], r["entities"], r["authorization"]) for r in new]

    # (a) Zhejiang's root field; each desk's store, city and mediator from us.
    body = post(topology.gateway, DESKS)
    assert "errors" not in body, f"{body}\n{logs()}"
    desks = body["data"]["zhejiangReturnDesks"]
    assert {d["store"]["code"] for d in desks} == DESK_STORES, body
    references = {
        "Store": {d["store"]["code"] for d in desks},
        "District": {d["city"]["code"] for d in desks},
        "ContactPoint": {d["mediatingContactPoint"]["code"] for d in desks},
    }
    # One request to each subgraph: Hive Gateway sends a plan's `_entities` fetches to one
    # subgraph together, each reference once.
    assert requests(2) == [("zhejiang", None, False), ("liaison", sum(map(len, references.values())), False)], logs()
    representations = [{"__typename": t, "code": code} for t, codes in references.items() for code in sorted(codes)]
    direct = post(topology.liaison, ENTITIES, {"X-Router-Secret": topology.secret}, representations=representations)
    ours = {(r["__typename"], r["code"]): e for r, e in zip(representations, direct["data"]["_entities"], strict=True)}
    for desk in desks:
        assert desk["store"] == ours["Store", desk["store"]["code"]], desk
        assert desk["city"] == ours["District", desk["city"]["code"]], desk
        assert desk["mediatingContactPoint"] == ours["ContactPoint", desk["mediatingContactPoint"]["code"]], desk
        assert desk["store"]["name"] and desk["city"]["region"] == {"name": "浙江省"}, desk
        assert desk["openingHours"], desk

    # (b) Our cross-store returns with a credential, each return store's desk from Zhejiang.
    body = post(topology.gateway, RETURNS, bearer("internal"))
    assert "errors" not in body, f"{body}\n{logs()}"
    nodes = body["data"]["crossStoreReturns"]["nodes"]
    assert [(r["code"], r["returnStore"]["code"]) for r in nodes] == LATEST_ZHEJIANG_RETURNS, body
    hours = {d["store"]["code"]: d["openingHours"] for d in desks}
    assert [r["returnStore"]["returnDesk"] for r in nodes] == [
        {"openingHours": hours[r["returnStore"]["code"]]} for r in nodes
    ]
    # The credential went to us, not to the partner.
    assert requests(2) == [("liaison", None, True), ("zhejiang", 3, False)], logs()

    # (c) Without one, our refusal comes through the gateway.
    body = post(topology.gateway, RETURNS)
    assert body["data"] == {"crossStoreReturns": None}, body
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [(["crossStoreReturns"], "FORBIDDEN")]
    assert requests(1) == [("liaison", None, False)], logs()

    # Ctrl-C stops all three.
    topology.process.send_signal(signal.SIGINT)
    assert topology.process.wait(30) == 130, logs()
    assert all(refused(port) for port in topology.ports.values()), logs()
