"""`sigma-azure-aks validate PATH...`: check queries with Microsoft's KQL parser (:mod:`..validate`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .common import (
    EXIT_FAILED,
    EXIT_MISSING_COMPONENT,
    EXIT_OK,
    EXIT_USAGE,
    Progress,
    UsageError,
    add_common_arguments,
    error,
    pipeline_and_options,
)

HELP = "check queries with Microsoft's KQL parser"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="Sigma rule files (.yml/.yaml), .kql files, or folders of them",
    )
    add_common_arguments(parser)
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="text (one line a problem) or json"
    )


def run(args: argparse.Namespace) -> int:
    from ..batch import RULE_SUFFIXES, rule_files
    from ..kql_parser.checker import KqlParserUnavailable
    from ..validate import KQL_SUFFIXES, validate_paths

    try:
        pipeline, options = pipeline_and_options(args)
    except UsageError as problem:
        error(str(problem))
        return EXIT_USAGE
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        error(f"no such file or folder: {missing[0]}")
        return EXIT_USAGE
    files = rule_files(args.paths, RULE_SUFFIXES + KQL_SUFFIXES)
    progress = Progress(len(files), "validating")
    try:
        report = validate_paths(
            args.paths, pipeline, backend_options=options, on_file=lambda _path: progress.advance()
        )
    except KqlParserUnavailable as problem:
        progress.close()
        error(f"Microsoft's KQL parser is not available: {problem}")
        return EXIT_MISSING_COMPONENT
    progress.close()
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        for problem in report.problems:
            sys.stdout.write(f"{problem}\n")
    for note in report.notes:
        sys.stderr.write(f"note: {note}\n")
    sys.stderr.write(report.summary() + "\n")
    return EXIT_OK if report.ok else EXIT_FAILED
