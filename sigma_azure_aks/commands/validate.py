"""`sigma-azure-aks validate PATH...`: check queries with Microsoft's KQL parser (:mod:`..validate`)."""

from __future__ import annotations

import argparse
import json
import sys

from .common import (
    EXIT_FAILED,
    EXIT_MISSING_COMPONENT,
    EXIT_OK,
    CommandError,
    Progress,
    WarningPrinter,
    add_common_arguments,
    details_block,
    error,
    prepare,
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
    from ..batch import RULE_SUFFIXES
    from ..kql_parser.checker import KqlParserUnavailable
    from ..validate import CONVERSION_CODE, KQL_SUFFIXES, validate_paths

    try:
        pipeline, options, files = prepare(
            args, args.paths, RULE_SUFFIXES + KQL_SUFFIXES, "Sigma rules (.yml, .yaml) or .kql files"
        )
    except CommandError as problem:
        error(str(problem))
        return problem.code
    progress = Progress(len(files), "validating")
    with WarningPrinter(args.verbose, progress):
        try:
            report = validate_paths(
                files, pipeline, backend_options=options, on_file=lambda _path: progress.advance()
            )
        except KqlParserUnavailable as problem:
            progress.close()
            error(f"Microsoft's KQL parser is not available: {problem}")
            return EXIT_MISSING_COMPONENT
        progress.close()
    # Conversion warnings are what `convert` shows; here they are listed with --verbose (and in json).
    hidden = [p for p in report.problems if p.code == CONVERSION_CODE and not p.is_error]
    if args.format == "json":
        sys.stdout.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        for problem in report.problems:
            if args.verbose or problem not in hidden:
                sys.stdout.write(f"{problem}\n")
            if args.verbose and problem.details:
                sys.stdout.write(details_block(problem.details))
    for note in report.notes:
        sys.stderr.write(f"note: {note}\n")
    if hidden and args.format == "text" and not args.verbose:
        sys.stderr.write(f"note: {len(hidden)} conversion warning(s) not listed (--verbose lists them)\n")
    sys.stderr.write(report.summary() + "\n")
    return EXIT_OK if report.ok else EXIT_FAILED
