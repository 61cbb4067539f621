"""bench/asgi_cost.py measures answered requests only, and leaves no process pinned."""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess

import pytest
import uvloop

from api.app import create_app
from api.settings import Settings
from bench.asgi_cost import _ENVIRONMENT, _measure, _pinned
from bench.perf import bench_token
from bench.queries import build_queries


def test_runs_are_measured_on_answered_requests_and_stop_at_a_refusal(demo_dsn: str) -> None:
    settings = Settings.from_env({**os.environ, **_ENVIRONMENT, "DATABASE_URL": demo_dsn})
    query = next(q for q in build_queries(bench_token(), []) if q.key == "Q3")
    args = argparse.Namespace(requests=32, concurrency=4, runs=2)
    runs = uvloop.run(_measure(create_app(settings), query.ours, args))
    assert len(runs) == 2 and all(run > 0 for run in runs)
    refused = dataclasses.replace(query.ours, headers={**query.ours.headers, "authorization": "Bearer nonsense"})
    with pytest.raises(RuntimeError, match="401"):
        uvloop.run(_measure(create_app(settings), refused, args))


def test_the_pinning_is_undone_after_the_run() -> None:
    """A server given by --dsn outlives the run: its new backends must not stay on one CPU."""
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        pytest.skip("one CPU: nothing is pinned")
    stand_in = subprocess.Popen(["sleep", "60"])  # a process to pin, as the postmaster is
    try:
        with _pinned(stand_in.pid) as pinned:
            assert os.sched_getaffinity(0) == {max(cpus)}
            assert os.sched_getaffinity(stand_in.pid) == cpus - {max(cpus)}
            assert "PostgreSQL on" in pinned
        assert os.sched_getaffinity(0) == cpus and os.sched_getaffinity(stand_in.pid) == cpus
    finally:
        stand_in.kill()
        stand_in.wait()
