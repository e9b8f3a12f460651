"""Progress for long syncs: a live line on a terminal, a log line now and then otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

LOG_EVERY = 10.0  # seconds between progress lines when stderr is not a terminal


class ProgressLine:
    """A connectors.base.Progress that writes to ``stream`` (stderr by default)."""

    def __init__(
        self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.clock = clock
        self._last = 0.0
        self._dirty = False

    def __call__(self, source: str, folder: str, done: int, total: int | None) -> None:
        now = self.clock()
        finished = total is not None and done >= total
        if not self.tty and not finished and now - self._last < LOG_EVERY:
            return
        self._last = now
        of = f"/{total}" if total is not None else ""
        pct = f" ({done * 100 // total}%)" if total else ""
        line = f"{source} {folder}: {done}{of}{pct}"
        if self.tty:
            self.stream.write("\r\033[K" + line)
            self._dirty = True
        elif total is None or total >= 1000 or not finished:
            self.stream.write(line + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self.tty and self._dirty:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._dirty = False
