"""A one-line progress bar on stderr for long commands (volume loads, imports)."""

from __future__ import annotations

import sys
import time

__all__ = ["ProgressBar"]


class ProgressBar:
    def __init__(self, label: str, width: int = 30, unit: str = "rows") -> None:
        self.label = label
        self.width = width
        self.unit = unit
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        elapsed = time.monotonic() - self.started
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] {done:,}/{total:,} {self.unit}, {elapsed:.0f}s"
        )
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()
