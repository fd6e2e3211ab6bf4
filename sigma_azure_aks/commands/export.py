"""`sigma-azure-aks export RULES... --out DIR`: one file per rule and format, and ARM bundles.

The layout of DIR and the naming of files: :mod:`sigma_azure_aks.export`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..export import DEFAULT_FORMATS, FORMATS
from .common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    Progress,
    WarningPrinter,
    add_common_arguments,
    error,
    prepare,
    summary,
)

HELP = "write one file per rule and format, and Import-ready ARM bundles"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "rules", nargs="+", metavar="RULES", help="Sigma rule files or folders (searched recursively)"
    )
    parser.add_argument(
        "--out", "-o", required=True, metavar="DIR", help="output folder (created if missing)"
    )
    parser.add_argument(
        "--format",
        "-f",
        default=DEFAULT_FORMATS,
        metavar="LIST",
        help=f"comma-separated formats out of {', '.join(FORMATS)} (default: {DEFAULT_FORMATS})",
    )
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..export import export_files, parse_formats, write_export

    try:
        formats = parse_formats(args.format)
    except ValueError as problem:
        error(str(problem))
        return EXIT_USAGE
    try:
        pipeline, options, files = prepare(args, args.rules)
    except CommandError as problem:
        error(str(problem))
        return problem.code
    out = Path(args.out)
    progress = Progress(len(files), "Exporting")
    with WarningPrinter(args.verbose, progress):
        try:
            result = export_files(files, formats, pipeline, options, on_file=lambda _path: progress.advance())
        finally:
            progress.close()
    try:
        write_export(out, result, args.pipeline, args.rules)
    except OSError as problem:
        error(f"cannot write to {out}: {problem.strerror or problem}: {problem.filename or out}")
        return EXIT_FAILED
    summary(len(result.exported), result.failures, details=result.details, verbose=args.verbose)
    return EXIT_FAILED if result.failures else EXIT_OK
