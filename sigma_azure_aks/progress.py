"""Progress on long runs and the closing summary, on stderr (stdout stays for data)."""

from __future__ import annotations

import os
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
        self._file = ""
        self._file_started = 0.0
        self._file_size = 0

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

    def within(self, name: str, share: float) -> None:
        """Progress inside one file (`share` of it read, 0 to 1): the share, bytes, rate and
        time left, on a terminal, at most every 0.2 s."""
        if not self.stream.isatty():
            return
        now = time.monotonic()
        if name != self._file:
            self._file, self._file_started, self._file_size = name, now, _file_size(name)
        if now - self._last < 0.2 and share < 1:
            return
        self._last = now
        elapsed = now - self._file_started
        parts = [f"{share:.0%}"]
        if self._file_size:
            parts.append(f"{_bytes(share * self._file_size)} of {_bytes(self._file_size)}")
        if elapsed > 0 and share > 0:
            if self._file_size:
                parts.append(f"{_bytes(share * self._file_size / elapsed)}/s")
            parts.append(f"{_duration(elapsed * (1 - share) / share)} left")
        self._draw(f"{self.label} {self.done}/{self.total}: {name} {', '.join(parts)}")

    def _draw(self, line: str) -> None:
        self.stream.write(f"\r\x1b[K{line}")  # the line redrawn in place
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()


def _file_size(name: str) -> int:
    try:
        return os.path.getsize(name)
    except OSError:
        return 0


def _bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def summary(converted: int, failures: list[str], noun: str = "rules", stream: TextIO | None = None) -> None:
    """`N converted, M failed` and one line per failure."""
    out = stream if stream is not None else sys.stderr
    for line in failures:
        out.write(f"error: {line}\n")
    out.write(f"{converted} {noun} converted, {len(failures)} failed\n")
