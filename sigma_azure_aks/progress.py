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

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            bar = "#" * filled + "-" * (width - filled)
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total}")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def summary(converted: int, failures: list[str], noun: str = "rules", stream: TextIO | None = None) -> None:
    """`N converted, M failed` and one line per failure."""
    out = stream if stream is not None else sys.stderr
    for line in failures:
        out.write(f"error: {line}\n")
    out.write(f"{converted} {noun} converted, {len(failures)} failed\n")
