"""bench/procs.py: a process tree's CPU, when a child exits while the tree is being read; the
kernel's autogroups set for a run and put back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import procs

_PARENT = """
import os, signal, time
child = os.fork()
if child == 0:
    started = time.process_time()
    while time.process_time() - started < 0.3:  # CPU the tree must keep counting after the child is gone
        pass
    signal.pause()
    os._exit(0)
print(child, flush=True)
os.waitpid(child, 0)  # reaped at once, as the postmaster reaps its backends
time.sleep(60)
"""


def _cpu(pid: int) -> float:
    return (procs._ticks(pid, reaped=False) or 0) / procs.TICK


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_child_exiting_during_the_reading_is_still_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    with subprocess.Popen([sys.executable, "-c", _PARENT], stdout=subprocess.PIPE, text=True) as parent:
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            deadline = time.monotonic() + 10
            while _cpu(child) < 0.3 and time.monotonic() < deadline:
                time.sleep(0.05)
            spent = _cpu(child)
            read, scan = procs._stat, procs._parents
            scanning = exited = False

            def parents() -> dict[int, int]:
                nonlocal scanning
                scanning = True
                try:
                    return scan()
                finally:
                    scanning = False

            def stat(pid: int) -> list[str] | None:
                """The tree's processes as they are, but the child exits and is reaped just
                after the parent's CPU is first read (not when the tree is listed)."""
                nonlocal exited
                fields = read(pid)
                if pid == parent.pid and not scanning and not exited:
                    exited = True
                    os.kill(child, signal.SIGTERM)
                    while Path(f"/proc/{child}").exists():
                        time.sleep(0.01)
                return fields

            monkeypatch.setattr(procs, "_stat", stat)
            monkeypatch.setattr(procs, "_parents", parents)
            total = procs.cpu_seconds(parent.pid)
            assert exited
            assert total >= spent, "the child's CPU fell between the parent's reading and its own"
        finally:
            parent.kill()


def test_autogroups_are_reported_as_found_and_put_back_after_a_run() -> None:
    found = procs.AUTOGROUP.read_text().strip() if procs.AUTOGROUP.exists() else None
    with procs.autogroups(None) as state:
        assert state == {"1": "on", "0": "off", None: "absent"}[found]
    if found is None or not os.access(procs.AUTOGROUP, os.W_OK):
        pytest.skip("no autogroups to set here")
    with procs.autogroups(found != "1") as state:
        assert state == ("off" if found == "1" else "on")
        assert procs.AUTOGROUP.read_text().strip() != found
    assert procs.AUTOGROUP.read_text().strip() == found
