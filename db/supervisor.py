"""Bring the embedded PostgreSQL back when it dies under a running service.

The service's pool keeps its DSN; the server comes back in the same socket directory, so
requests answer ``DATABASE_UNAVAILABLE`` meanwhile and are served again once it is up,
without restarting the service.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time

from .embedded import EmbeddedPostgres, EmbeddedPostgresError

__all__ = ["Supervisor"]

log = logging.getLogger(__name__)


class Supervisor:
    """Watches one server from a thread; when its postmaster exits, reaps it and starts it again.

    The same for a server this process started and one it attached to: whichever process
    notices first starts it, the others attach (``EmbeddedPostgres.exclusive``). Restarts
    back off from ``first_delay`` doubling to ``max_delay`` while the server keeps dying,
    and reset once it stayed up ``steady`` seconds. Stop this before the server: a
    postmaster restarted here gets SIGINT from the kernel when this thread ends.
    """

    def __init__(
        self, server: EmbeddedPostgres, *, first_delay: float = 0.2, max_delay: float = 5.0, steady: float = 30.0
    ) -> None:
        self.server = server
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.steady = steady
        self._watching: int | None = None
        self._stopping = False
        self._wake_read, self._wake_write = os.pipe()
        self._thread = threading.Thread(target=self._run, name="embedded-postgres-supervisor", daemon=True)

    @property
    def watching(self) -> int | None:
        """The PID of the postmaster being watched; None while the server is down or starting."""
        return self._watching

    def __enter__(self) -> Supervisor:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stopping = True
        os.write(self._wake_write, b"x")
        if self._thread.is_alive():
            self._thread.join()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _run(self) -> None:
        delay = self.first_delay
        while not self._stopping:
            pid = self.server.pid
            if pid is not None:
                up_since = time.monotonic()
                if not self._wait_for_exit(pid):
                    return
                if time.monotonic() - up_since >= self.steady:
                    delay = self.first_delay
            status = self.server.reap()  # a child of ours: no zombie, whose PID would block the start
            how = "" if status is None else f" (exit status {status})"
            log.warning("embedded PostgreSQL is down%s; starting it in %.1fs", how, delay)
            if not self._sleep(delay):
                return
            delay = min(delay * 2, self.max_delay)
            try:
                self.server.start()
            except (EmbeddedPostgresError, OSError) as exc:
                log.error("embedded PostgreSQL did not start: %s", exc)
            except Exception:  # a watcher that dies leaves the service without a database for good
                log.exception("embedded PostgreSQL did not start")

    def _wait_for_exit(self, pid: int) -> bool:
        """Block until ``pid`` exits (True) or ``stop()`` is called (False)."""
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return True
        except OSError:  # no pidfd before Linux 5.3: look every 0.2 s
            return self._poll_for_exit(pid)
        try:
            if self.server.pid != pid:  # it exited, and the PID went to another process, before we opened it
                return True
            self._watching = pid
            ready, _, _ = select.select([pidfd, self._wake_read], [], [])
            return self._wake_read not in ready
        finally:
            self._watching = None
            os.close(pidfd)

    def _poll_for_exit(self, pid: int) -> bool:
        self._watching = pid
        try:
            while self.server.pid == pid:
                if not self._sleep(0.2):
                    return False
            return True
        finally:
            self._watching = None

    def _sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` unless ``stop()`` is called first (then False)."""
        ready, _, _ = select.select([self._wake_read], [], [], seconds)
        return not ready
