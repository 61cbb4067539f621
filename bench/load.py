"""One timed run: wrk against an HTTP peer, or a replay of a peer's SQL, with what it cost.

A run reports requests per second, p50 and p99 latency, the CPU the peer's process tree
spent per request and PostgreSQL's (the postmaster's tree), and the peer's peak RSS during
the run (VmHWM, reset before it). After each run it waits until the peer and PostgreSQL
are idle again, so requests the load generator abandoned do not slow the next peer.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .peers import BENCH, ROOT, Peer
from .procs import busy_cores, cpu_seconds, machine_ticks, peak_rss_mb, reset_peak_rss, wait_idle
from .queries import Request
from .replay import ReplayJob, Statement

__all__ = ["Run", "check_wrk", "duration_for", "run_replay", "run_wrk"]

BODIES = BENCH / ".data" / "bodies"
WRK_SCRIPT = BENCH / "wrk.lua"


@dataclass(frozen=True)
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    """Connection, read, write and status errors, timeouts, and bodies that failed the check."""
    server_cpu_ms: float
    """Per request: the peer's process tree (for a replay: its asyncpg driver)."""
    pg_cpu_ms: float
    """Per request: the postmaster and all its children (backends, background workers)."""
    rss_mb: float
    seconds: float
    checked: int = 0
    """Responses whose bodies bench/wrk.lua checked during the run."""
    bad_bodies: int = 0
    """... of which failed (not HTTP 200, or no "data", or an "errors" member); counted in ``errors``."""
    bad_sample: str = ""
    machine_cores: float = float("nan")
    """Cores the whole machine kept busy during the run (wrk, the peer, PostgreSQL, the rest):
    near ``os.cpu_count()``, the machine was the limit; well below, a process or a wait was."""

    @property
    def cpu_ms(self) -> float:
        """Server and PostgreSQL CPU per request."""
        return self.server_cpu_ms + self.pg_cpu_ms


def check_wrk() -> str:
    """wrk's path, installing Debian's package when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("bench/perf.py needs wrk: `sudo apt-get install -y wrk` (Debian), then run again")
    print("installing wrk (apt-get install -y wrk) ...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=False)  # noqa: S607
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)  # noqa: S607
    return shutil.which("wrk") or "wrk"


def duration_for(rps: float, concurrency: int, base: float, cap: float) -> int:
    """Whole seconds (as wrk takes them), long enough for every connection to finish a few
    requests, within [base, cap]."""
    return math.ceil(min(cap, max(base, 4 * concurrency / max(rps, 0.1))))


def _body_file(request: Request) -> str:
    if request.body is None:
        return ""
    BODIES.mkdir(parents=True, exist_ok=True)
    path = BODIES / (hashlib.sha256(request.body).hexdigest()[:16] + ".json")
    if not path.exists():
        path.write_bytes(request.body)
    return str(path)


def _per_request(seconds: float, requests: int) -> float:
    return seconds / requests * 1e3 if requests else float("nan")


def run_wrk(
    peer: Peer,
    request: Request,
    concurrency: int,
    duration: float,
    pg_pid: int | None,
    *,
    bodies: Path | None = None,
    cpus: str | None = None,
    check_every: int = 10,
) -> Run:
    """wrk at ``concurrency`` for ``duration`` s: ``request`` every time (identical regime),
    or with ``bodies`` one body per line in turn (varied regime; ``request`` gives method,
    path and headers). ``cpus``: taskset's CPU list for wrk."""
    env = {
        **os.environ,
        "WRK_METHOD": request.method,
        "WRK_BODY_FILE": "" if bodies else _body_file(request),
        "WRK_BODIES_FILE": str(bodies) if bodies else "",
        "WRK_CHECK_EVERY": str(check_every),
        "WRK_HEADERS": "\n".join(f"{k}: {v}" for k, v in request.headers.items()),
    }
    argv = [*(["taskset", "-c", cpus] if cpus else []), "wrk", "-t", str(min(2, concurrency)), "-c", str(concurrency), "-d", f"{math.ceil(duration)}s",
            "--timeout", "120s", "--latency", "-s", str(WRK_SCRIPT), peer.url(request.path)]  # fmt: skip
    reset_peak_rss(peer.pid)
    server, pg, machine = cpu_seconds(peer.pid), cpu_seconds(pg_pid), machine_ticks()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    machine_cores = busy_cores(machine, machine_ticks())
    server, pg = cpu_seconds(peer.pid) - server, cpu_seconds(pg_pid) - pg
    rss = peak_rss_mb(peer.pid)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"wrk failed ({done.returncode}): {' '.join(argv)}\n{done.stdout}\n{done.stderr}")
    found = json.loads(line[len("WRK_JSON ") :])
    wait_idle([peer.pid, pg_pid])
    n, seconds = found["requests"], found["duration_us"] / 1e6
    errors = sum(found[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    errors += found["bad_bodies"]
    sample = next(
        (x[len("WRK_BAD_SAMPLE ") :] for x in done.stdout.splitlines() if x.startswith("WRK_BAD_SAMPLE ")), ""
    )
    return Run(
        n / seconds,
        found["p50_us"] / 1e3,
        found["p99_us"] / 1e3,
        n,
        errors,
        _per_request(server, n),
        _per_request(pg, n),
        rss,
        seconds,
        found["checked"],
        found["bad_bodies"],
        sample,
        machine_cores,
    )


def run_replay(
    dsn: str, statements: tuple[Statement, ...], concurrency: int, duration: float, pg_pid: int | None
) -> Run:
    """The replay's driver in its own process (python -m bench.replay), as a peer would be."""
    job = ReplayJob(dsn, statements, concurrency, duration, warmup=min(1.0, duration / 4))
    with tempfile.NamedTemporaryFile(suffix=".pickle", delete=False) as f:
        pickle.dump(job, f)
    try:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bench.replay", f.name], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        assert process.stdout is not None
        pg, rss, found = 0.0, 0.0, None
        for line in process.stdout:
            if line.startswith("REPLAY_MEASURING"):
                reset_peak_rss(process.pid)
                pg = cpu_seconds(pg_pid)
            elif line.startswith("REPLAY_STOPPED"):
                pg = cpu_seconds(pg_pid) - pg
                rss = peak_rss_mb(process.pid)
            elif line.startswith("REPLAY_JSON "):
                found = json.loads(line[len("REPLAY_JSON ") :])
        process.wait()
    finally:
        Path(f.name).unlink(missing_ok=True)
    if found is None:
        raise SystemExit(f"the replay's driver failed ({process.returncode})")
    wait_idle([pg_pid])
    n, seconds = found["requests"], found["duration_us"] / 1e6
    return Run(
        n / seconds,
        found["p50_us"] / 1e3,
        found["p99_us"] / 1e3,
        n,
        found["errors"],
        _per_request(found["cpu_seconds"], n),
        _per_request(pg, n),
        rss,
        seconds,
    )
