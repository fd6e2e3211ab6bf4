"""What every subcommand shares: exit codes, `-p`/`-O`, progress and the closing summary.

Progress and summaries go to stderr; stdout stays for data (queries, problems, hits).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
import time
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_MISSING_COMPONENT = 3
EXIT_NOT_REPLAYED = 4
EXIT_CHANGES_PENDING = 5

EXIT_CODES = {
    EXIT_OK: "success: every rule converted (`validate`: and no query has an error; `plan`: the plan is "
    "made, and with `--detailed-exitcode` it has no changes)",
    EXIT_FAILED: "a rule failed to convert, a query has an error (`validate`), no rules were found "
    "under the paths given, or the output cannot be written (`export`)",
    EXIT_USAGE: "wrong usage: an unknown option, a missing argument, an unknown pipeline, a path that "
    "does not exist, an events file `replay` cannot read, or a manifest or workspace export `plan` "
    "cannot read (not JSON, not that shape, no manifest in the folder)",
    EXIT_MISSING_COMPONENT: "an optional component is missing: the KQL parser's engine (`validate`: the "
    "`[validate]` extra, or node), or the replay engine (`replay`); the message says how to install it",
    EXIT_NOT_REPLAYED: "`replay` only: every rule converted, but the local engine cannot run some of the "
    "queries (each named on stderr as `not replayed: FILE: RULE: ...`, with the Kusto construct; the "
    "queries themselves are valid for Microsoft Sentinel); the other rules ran",
    EXIT_CHANGES_PENDING: "`plan --detailed-exitcode` only: the plan has changes (rules to add, change or "
    "remove, or drift); without `--detailed-exitcode`, `plan` exits 0 whatever it found",
}
"""Every exit code of every command, with its meaning (the epilog of `--help`, docs/commands.md)."""


class CommandError(ValueError):
    """Why a command cannot start, and its exit code."""

    code = EXIT_FAILED


class UsageError(CommandError):
    """A command-line value that cannot be used."""

    code = EXIT_USAGE


class NoRulesError(CommandError):
    """The paths given hold nothing to work on (so a CI job with a wrong path fails)."""

    code = EXIT_FAILED


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
    """`-p` and `-O`, as sigma-cli spells them, and `--verbose`."""
    add_pipeline_argument(parser)
    add_option_argument(parser)
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="show each warning's details under its line"
    )


def parse_options(items: list[str]) -> dict[str, str]:
    """`-O KEY=VALUE` items as a mapping; UsageError for an item without `=` or a key that is no
    analytics-rule setting."""
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"option {item!r} is not KEY=VALUE")
        options[key.strip()] = value.strip()
    from ..analytics.options import unknown_option_keys, unknown_option_message

    unknown = unknown_option_keys(options)
    if unknown:
        raise UsageError(unknown_option_message(unknown[0], "option"))
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


def input_files(paths: Iterable[str], suffixes: tuple[str, ...] | None = None, what: str = "") -> list[Path]:
    """The files named or found under `paths` (see :func:`..batch.rule_files`; default suffixes:
    Sigma rules). UsageError for a path that does not exist; NoRulesError when nothing is found."""
    from ..batch import RULE_SUFFIXES, rule_files

    chosen = suffixes or RULE_SUFFIXES
    names = list(paths)
    missing = [name for name in names if not Path(name).exists()]
    if missing:
        raise UsageError(f"no such file or folder: {missing[0]}")
    files = rule_files(names, chosen)
    if not files:
        kinds = what or f"Sigma rules ({', '.join(chosen)} files)"
        raise NoRulesError(f"no {kinds} found in {', '.join(names)}")
    return files


def prepare(
    args: argparse.Namespace, paths: Iterable[str], suffixes: tuple[str, ...] | None = None, what: str = ""
) -> tuple[Any, dict[str, str], list[Path]]:
    """(pipeline, options, input files) of a command line; CommandError with its exit code."""
    pipeline, options = pipeline_and_options(args)
    return pipeline, options, input_files(paths, suffixes, what)


# ---- warnings ------------------------------------------------------------------------------------


def details_block(details: str) -> str:
    """A warning's details, indented under its line (`--verbose`)."""
    return textwrap.fill(details, 100, initial_indent="    ", subsequent_indent="    ") + "\n"


class WarningPrinter:
    """While active, every warning is one line `warning: TEXT` on stderr, each text once (a rule
    rendered in three formats warns once), its details under it with `verbose`. A progress line
    being drawn is cleared first, so a warning always starts a line of its own."""

    def __init__(self, verbose: bool = False, progress: Progress | None = None, stream: TextIO | None = None):
        self.verbose = verbose
        self.progress = progress
        self.stream = stream if stream is not None else sys.stderr
        self.shown: set[str] = set()
        self.hidden_details = 0
        self._catch = warnings.catch_warnings()

    def __enter__(self) -> WarningPrinter:
        self._catch.__enter__()
        warnings.simplefilter("always", UserWarning)  # one per rule, not one per source line
        warnings.showwarning = self._show_warning
        return self

    def __exit__(self, *exc: object) -> None:
        self._catch.__exit__(*exc)
        if self.hidden_details:
            self.stream.write(f"note: --verbose shows the details of {self.hidden_details} warning(s)\n")

    def _show_warning(self, message: Warning | str, *_args: Any, **_kwargs: Any) -> None:
        self.show(message)

    def show(self, message: Warning | str, details: str | None = None) -> None:
        from ..notices import details_of

        text = " ".join(str(message).split())
        if text in self.shown:
            return
        self.shown.add(text)
        if self.progress is not None:
            self.progress.interrupt()
        self.stream.write(f"warning: {text}\n")
        more = details_of(message) if details is None else details
        if more and self.verbose:
            self.stream.write(details_block(more))
        elif more:
            self.hidden_details += 1


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
        self._on_line = False  # a progress line is on the screen, not yet ended
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
        self._on_line = True

    def interrupt(self) -> None:
        """Clear the progress line, for a message to take its place (the next step redraws it)."""
        if self._on_line:
            self.stream.write("\r\x1b[K")
            self._on_line = False
            self._last = 0.0

    def close(self) -> None:
        if self._on_line:
            self.stream.write("\n")
            self.stream.flush()
            self._on_line = False


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


def summary(
    converted: int,
    failures: list[str],
    noun: str = "rules",
    stream: TextIO | None = None,
    details: Mapping[str, str] | None = None,
    verbose: bool = False,
) -> None:
    """`N converted, M failed` and one line per failure; with `verbose`, a failure's `details`
    (every name a table accepts) under its line, else a note that `--verbose` shows them."""
    out = stream if stream is not None else sys.stderr
    hidden = 0
    for line in failures:
        out.write(f"error: {line}\n")
        more = (details or {}).get(line, "")
        if more and verbose:
            out.write(details_block(more))
        elif more:
            hidden += 1
    if hidden:
        out.write(f"note: --verbose shows the details of {hidden} error(s)\n")
    out.write(f"{converted} {noun} converted, {len(failures)} failed\n")
