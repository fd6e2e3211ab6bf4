"""`sigma-azure-aks replay RULES... --events FILE...`: run rules on events locally (:mod:`..replay`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any

from .common import (
    EXIT_FAILED,
    EXIT_MISSING_COMPONENT,
    EXIT_NOT_REPLAYED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    Progress,
    UsageError,
    WarningPrinter,
    add_common_arguments,
    error,
    prepare,
    summary,
)

HELP = "run rules on events locally"
EVENTS_SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")
"""What an events file is named; a rule path named so is an events file given without --events."""
DEFAULT_MEMORY_LIMIT = "1GB"  # suited to a laptop; DuckDB spills beyond it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rules", nargs="+", metavar="RULES", help="Sigma rule files or folders")
    parser.add_argument(
        "--events",
        "-e",
        action="append",
        required=True,
        metavar="FILE",
        help="an events file: a Log Analytics export (CSV, JSON, JSON lines) or raw activity-log / "
        "kube-audit records; one file per --events, repeat it for more",
    )
    parser.add_argument(
        "--format",
        "-f",
        choices=("text", "json"),
        default="text",
        help="text: hits per rule; json: one object, rule id -> matched event ids",
    )
    parser.add_argument(
        "--memory-limit",
        default=DEFAULT_MEMORY_LIMIT,
        metavar="SIZE",
        help=f"memory the engine may use before it spills to a temporary folder (default {DEFAULT_MEMORY_LIMIT})",
    )
    parser.add_argument(
        "--every-window",
        action="store_true",
        help="a correlation rule: list every alerting window with all its events, instead of one alert per "
        "episode of overlapping windows of a group (as the deployed rule reports it); the list grows with the "
        "square of a burst",
    )
    add_common_arguments(parser)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def take_extra_arguments(args: argparse.Namespace, extras: list[str]) -> bool:
    """Paths after `--events FILE` (argparse leaves them over once the rules were read) are rules."""
    if any(extra.startswith("-") for extra in extras):
        return False
    args.rules.extend(extras)
    return True


def check_events(rules: list[str], events: list[str]) -> None:
    """UsageError for an events file among the rules (a second file after one --events) and for
    an --events value that is missing, a folder or a Sigma rule."""
    for name in rules:
        path = Path(name)
        if path.is_file() and path.suffix.lower() in EVENTS_SUFFIXES:
            raise UsageError(
                f"{name} looks like an events file, not Sigma rules: give each events file its own "
                f"--events (--events a.csv --events b.json)"
            )
    for name in events:
        path = Path(name)
        if not path.exists():
            raise UsageError(f"no such file or folder: {name}")
        if path.is_dir() or path.suffix.lower() in (".yml", ".yaml"):
            raise UsageError(
                f"--events {name}: an events file is expected, not {'a folder' if path.is_dir() else 'a Sigma rule'}; "
                "--events takes one file, and the rules are the other arguments"
            )


def run(args: argparse.Namespace) -> int:
    from ..replay import replay
    from ..replay.errors import EngineMissingError, import_engine
    from ..replay.loaders import EventsFormatError, summary_columns

    try:
        import_engine()
    except EngineMissingError as problem:
        error(str(problem))
        return EXIT_MISSING_COMPONENT
    try:
        check_events(args.rules, args.events)
        pipeline, options, _files = prepare(args, args.rules)  # options shape analytics rules, not queries
    except CommandError as problem:
        error(str(problem))
        return problem.code
    started = time.monotonic()
    # Exports are scanned by the engine in one pass per file; other files are read in Python.
    progress = Progress(len(args.events), "events files")
    with WarningPrinter(args.verbose, progress):
        try:
            result = replay(
                args.rules,
                args.events,
                pipeline,
                on_file=progress.advance,
                on_reading=progress.note,
                scan=True,
                on_progress=progress.within,
                memory_limit=args.memory_limit,
                every_window=args.every_window,
            )
        except EventsFormatError as problem:
            progress.close()
            error(str(problem))
            return EXIT_USAGE
        progress.close()
    elapsed = time.monotonic() - started
    if args.format == "json":
        sys.stdout.write(indented_json({hit.rule_id: _json_hit(hit, result) for hit in result.hits}) + "\n")
    else:
        out = sys.stdout
        for hit in result.hits:
            if hit.alerts is not None:
                _write_alerts(out, hit)
                continue
            out.write(f"{hit.title} ({hit.rule_id}) [{hit.path}]: {len(hit.events)} hit(s)\n")
            columns = summary_columns(hit.table)
            for event in hit.events[:50]:
                cells = "  ".join(_cell(event.row.get(c)) for c in columns)
                out.write(f"  {event.event_id}  {cells}\n")
            if len(hit.events) > 50:
                out.write(f"  ... {len(hit.events) - 50} more\n")
    firing = sum(1 for hit in result.hits if hit.events)
    summary(
        len(result.hits) + len(result.not_replayed),
        [f for f in result.failures if f not in result.not_replayed],
    )
    for line in result.not_replayed:
        sys.stderr.write(f"not replayed: {line}\n")
    for line in result.notices:
        sys.stderr.write(f"note: {line}\n")
    sys.stderr.write(
        f"{result.event_count} events, {firing} of {len(result.hits)} rules fired, "
        f"{sum(len(h.events) for h in result.hits)} hits in {elapsed:.2f} s\n"
    )
    if len(result.failures) > len(result.not_replayed):
        return EXIT_FAILED
    return EXIT_NOT_REPLAYED if result.not_replayed else EXIT_OK


def _write_alerts(out: Any, hit: Any) -> None:
    """A correlation rule: each alert with its group keys, its span (the first window's start to
    the last one's end), metric and event ids, and how many events and windows it holds."""
    out.write(
        f"{hit.title} ({hit.rule_id}) [{hit.path}]: {len(hit.alerts)} alert(s), {len(hit.events)} event(s)\n"
    )
    for alert in hit.alerts[:50]:
        groups = " ".join(f"{name}={_cell(value)}" for name, value in alert.groups.items())
        out.write(
            f"  {alert.window_start} .. {alert.last_window_end}  {groups}  metric={alert.metric}  "
            f"events={','.join(alert.event_ids[:20])}{' ...' if alert.event_total > 20 else ''}  "
            f"({alert.event_total} event(s), {alert.windows} window(s))\n"
        )
    if len(hit.alerts) > 50:
        out.write(f"  ... {len(hit.alerts) - 50} more\n")


def indented_json(document: dict[str, Any]) -> str:
    """``json.dumps(document, indent=2, default=str)``, the same text: a list of ids (strings and
    whole numbers, the hits of a rule) is written by the C encoder an item at a time, not by
    the pure-Python one that an indent otherwise takes (a third of a second for 100k hits)."""
    if not document:
        return "{}"
    entries = []
    for key, value in document.items():
        if not isinstance(key, str):
            return json.dumps(document, indent=2, default=str)
        entries.append(f"  {encode_basestring_ascii(key)}: {_indented_value(value)}")
    return "{\n" + ",\n".join(entries) + "\n}"


def _indented_value(value: Any) -> str:
    """A value of :func:`indented_json`'s document, as written one level in."""
    if isinstance(value, list) and value and all(type(item) in (str, int) for item in value):
        items = (encode_basestring_ascii(i) if type(i) is str else int.__repr__(i) for i in value)
        return "[\n    " + ",\n    ".join(items) + "\n  ]"
    # strings hold no raw newline: every newline of the text starts a line, one level deeper
    return json.dumps(value, indent=2, default=str).replace("\n", "\n  ")


def _json_hit(hit: Any, result: Any) -> Any:
    """Matched event ids; for a correlation rule, its alerts with their event ids."""
    if hit.alerts is None:
        return result[hit.rule_id]
    return [
        {
            "groups": alert.groups,
            "window_start": alert.window_start,
            "window_end": alert.window_end,
            "last_window_start": alert.last_window_start,
            "last_window_end": alert.last_window_end,
            "windows": alert.windows,
            "metric": alert.metric,
            "event_ids": alert.event_ids,
            "event_total": alert.event_total,
        }
        for alert in hit.alerts
    ]
