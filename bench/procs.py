"""What processes cost, from /proc: CPU seconds of a process tree, peak RSS, idleness.

A tree's CPU is its root's own and reaped children's time (utime, stime, cutime, cstime)
plus the live descendants' own: backends that exit during a run are counted by the
postmaster's cutime once reaped, so nothing falls through between two readings.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "autogroups",
    "backends_cpu_seconds",
    "busy_cores",
    "busy_ns",
    "cpu_seconds",
    "descendants",
    "machine_ticks",
    "peak_rss_mb",
    "reset_peak_rss",
    "rss_mb",
    "state",
    "wait_idle",
]

TICK = os.sysconf("SC_CLK_TCK")

AUTOGROUP = Path("/proc/sys/kernel/sched_autogroup_enabled")


@contextlib.contextmanager
def autogroups(wanted: bool | None) -> Iterator[str]:
    """The kernel's autogroups (one scheduling group a session) set to ``wanted`` for the
    duration (root only), then put back; yields what they are ("on", "off", "absent").

    On, PostgreSQL (pg_ctl starts it in a session of its own) shares the CPU with the peer
    and wrk group by group, not process by process: on 2 saturated cores its backends then
    stalled for up to a second at a time, under a peer whose own processes were 60 % busy
    (``bench/RESULTS.md``, "Scheduler autogroups")."""
    if not AUTOGROUP.exists():
        yield "absent"
        return
    before = AUTOGROUP.read_text().strip()
    if wanted is not None:
        AUTOGROUP.write_text("1" if wanted else "0")
    try:
        yield "on" if AUTOGROUP.read_text().strip() == "1" else "off"
    finally:
        AUTOGROUP.write_text(before)


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[1].split()  # fields from 3 (state) on


def _parents() -> dict[int, int]:
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None:
                found[int(entry)] = int(fields[1])
    return found


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parents().items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def cpu_seconds(root: int | None) -> float:
    """User + system CPU of ``root``'s tree so far (0 when there is none).

    Read again while a process of the tree came or went during the reading: a backend that
    exited after the root was read and before its own reading would be counted nowhere (its
    time not yet in the root's cutime), one reaped between its reading and the root's, twice.
    On 2026-12-06 the first made a 2-process run's PostgreSQL CPU negative (−1.53 ms a request)."""
    if root is None:
        return 0.0
    total = 0.0
    for _ in range(_READINGS):
        tree = descendants(root)  # the root first: read last, after its children
        ticks = [_ticks(pid, reaped=pid == root) for pid in reversed(tree)]
        total = sum(t or 0 for t in ticks) / TICK
        if None not in ticks and set(descendants(root)) == set(tree):
            break
    return total


_READINGS = 5
"""Readings of a tree at most, until one sees the same processes from start to end."""


def _ticks(pid: int, *, reaped: bool) -> int | None:
    """utime + stime of ``pid`` (with ``reaped``: and of its reaped children); None when gone."""
    fields = _stat(pid)
    if fields is None:
        return None
    ticks = int(fields[11]) + int(fields[12])
    return ticks + int(fields[13]) + int(fields[14]) if reaped else ticks


def busy_ns(pid: int) -> int | None:
    """CPU time ``pid`` has run so far, in ns (``/proc/<pid>/schedstat``; stat's ticks are
    10 ms, too coarse for one backend's statements), or None when it is not on this machine."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def backends_cpu_seconds(postmaster: int | None, database: str) -> float:
    """CPU so far of the postmaster's live children that serve ``database`` (their process
    title names it): a run's own backends, apart from other databases' work in a shared
    cluster. A backend that exits between two readings is lost, so pools should stay open."""
    if postmaster is None:
        return 0.0
    total = 0.0
    for pid in descendants(postmaster):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ticks = _ticks(pid, reaped=False) if pid != postmaster and f" {database} " in f" {title} " else None
        total += (ticks or 0) / TICK
    return total


def machine_ticks() -> tuple[int, int]:
    """The machine's CPU ticks so far, (busy, all), from /proc/stat's first line: idle and
    iowait are not busy."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return sum(values) - values[3] - values[4], sum(values)


def busy_cores(before: tuple[int, int], after: tuple[int, int]) -> float:
    """Cores the whole machine kept busy on average between two ``machine_ticks``: everything
    that ran (load generator, servers, PostgreSQL, anything else), of ``os.cpu_count()``."""
    elapsed = after[1] - before[1]
    return (os.cpu_count() or 1) * (after[0] - before[0]) / elapsed if elapsed else float("nan")


def reset_peak_rss(root: int) -> None:
    """Start VmHWM again from the current RSS (Linux ≥ 4.0; needs to own the processes)."""
    for pid in descendants(root):
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_rss_mb(root: int) -> float:
    """Sum of VmHWM over the tree, in MiB (workers each hold their own heap)."""
    total = 0
    for pid in descendants(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def rss_mb(pid: int) -> float | None:
    """One process's resident memory now (VmRSS), in MiB; None when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def state(pid: int) -> str | None:
    """The process's state letter (R, S, T stopped, Z zombie ...); None when it is gone."""
    fields = _stat(pid)
    return fields[0] if fields is not None else None


def wait_idle(roots: list[int | None], *, quiet: float = 0.05, step: float = 0.25, limit: float = 180.0) -> float:
    """Wait until the trees use less than ``quiet`` of a core for two steps; seconds waited.

    After a load run a server may still be working through requests the load generator
    gave up on; the next run must not pay for them.
    """
    started = time.monotonic()
    calm = 0
    before = sum(cpu_seconds(r) for r in roots)
    while time.monotonic() - started < limit and calm < 2:
        time.sleep(step)
        now = sum(cpu_seconds(r) for r in roots)
        calm = calm + 1 if now - before < quiet * step else 0
        before = now
    return time.monotonic() - started
