"""A transient progress line on stderr: only on a terminal, only for work that lasts.

The line is drawn in place (carriage return + erase line) once the work has run for ``delay``
seconds (default ``GUARD_PROGRESS_DELAY_SECONDS``, else 1), redrawn at most ten times a second,
and erased by :meth:`ProgressLine.clear` before anything else is written, so it never mixes with
the report, and never stays behind.
When stderr is not a terminal it writes nothing at all.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import IO

_ERASE = "\r\x1b[2K"


def _default_delay() -> float:
    try:
        return max(0.0, float(os.environ.get("GUARD_PROGRESS_DELAY_SECONDS", "1")))
    except ValueError:
        return 1.0


class ProgressLine:
    def __init__(
        self, label: str, total: int, *, stream: IO[str] | None = None, delay: float | None = None
    ) -> None:
        self.stream = stream or sys.stderr
        try:
            self.enabled = bool(self.stream.isatty())
        except (AttributeError, ValueError):
            self.enabled = False
        self.label, self.total = label, total
        self.delay = _default_delay() if delay is None else delay
        self.done = 0
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._shown = False
        self._lock = threading.Lock()

    def advance(self, n: int = 1) -> None:
        with self._lock:
            self.done += n
            if not self.enabled:
                return
            now = time.monotonic()
            if now - self._start < self.delay or now - self._last_draw < 0.1:
                return
            self._last_draw = now
            elapsed = now - self._start
            self.stream.write(f"{_ERASE}{self.label} {self.done}/{self.total} targets ({elapsed:.0f} s)")
            self.stream.flush()
            self._shown = True

    def clear(self) -> None:
        """Erase the line (call before writing anything else to the terminal)."""
        with self._lock:
            if self._shown:
                self.stream.write(_ERASE)
                self.stream.flush()
                self._shown = False
