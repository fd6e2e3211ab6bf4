"""Progress on long runs and the closing summary, on stderr (stdout stays for data)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """A one-line progress counter, drawn only on a terminal and at most every 0.1 s."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() and total > 1
        self._last = 0.0
        self._drawn = False

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            bar = "#" * filled + "-" * (width - filled)
            self._draw(f"{self.label} [{bar}] {self.done}/{self.total}")

    def note(self, text: str) -> None:
        """Show what is being done now (a file being read), on a terminal, until the next draw."""
        if self.stream.isatty():
            self._draw(f"{self.label} {self.done}/{self.total}: {text}")

    def _draw(self, line: str) -> None:
        self.stream.write(f"\r\x1b[K{line}")  # the line redrawn in place
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def summary(converted: int, failures: list[str], noun: str = "rules", stream: TextIO | None = None) -> None:
    """`N converted, M failed` and one line per failure."""
    out = stream if stream is not None else sys.stderr
    for line in failures:
        out.write(f"error: {line}\n")
    out.write(f"{converted} {noun} converted, {len(failures)} failed\n")
