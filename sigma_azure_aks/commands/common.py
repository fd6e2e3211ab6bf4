"""What every subcommand shares: exit codes, `-p`/`-O`, progress and the closing summary.

Progress and summaries go to stderr; stdout stays for data (queries, problems, hits).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TextIO

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_MISSING_COMPONENT = 3

EXIT_CODES = {
    EXIT_OK: "everything converted (and, for `validate`, no query has an error; for `replay`, every rule ran)",
    EXIT_FAILED: "at least one rule failed to convert, or a query has an error",
    EXIT_USAGE: "wrong usage (unknown option, missing argument, unknown pipeline), "
    "or an events file `replay` cannot read",
    EXIT_MISSING_COMPONENT: "an optional component is missing: node and the KQL parser package "
    "(`validate`), or the replay engine (`replay`); the message says how to install it",
}
"""Every exit code of every command, with its meaning (the epilog of `--help`, docs/commands.md)."""


class UsageError(ValueError):
    """A command-line value that cannot be used (exit code 2)."""


def error(message: str) -> None:
    """`error: message` on stderr."""
    sys.stderr.write(f"error: {message}\n")


# ---- arguments every command takes ---------------------------------------------------------------


def add_pipeline_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--pipeline",
        action="append",
        default=[],
        metavar="NAME",
        help="processing pipeline, as in sigma-cli: a name or a YAML file (repeatable; "
        "default: what -t sentinel applies)",
    )


def add_option_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-O",
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="backend option, e.g. query_frequency=30m (repeatable; see docs/formats.md)",
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """`-p` and `-O`, as sigma-cli spells them."""
    add_pipeline_argument(parser)
    add_option_argument(parser)


def parse_options(items: list[str]) -> dict[str, str]:
    """`-O KEY=VALUE` items as a mapping; UsageError for an item without `=`."""
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"option {item!r} is not KEY=VALUE")
        options[key.strip()] = value.strip()
    return options


def pipeline_and_options(args: argparse.Namespace) -> tuple[Any, dict[str, str]]:
    """The resolved `-p` pipeline (None: the target's defaults) and the `-O` options; UsageError."""
    from ..batch import PipelineError, resolve_pipelines

    options = parse_options(args.option)
    try:
        pipeline = resolve_pipelines(args.pipeline)
    except PipelineError as problem:
        raise UsageError(str(problem)) from problem
    return pipeline, options


# ---- progress and summary ------------------------------------------------------------------------


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
