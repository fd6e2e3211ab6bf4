"""`sigma-azure-aks convert RULES...`: print each rule's KQL; report every failure and go on.

sigma-cli's `convert` stops at the first rule it cannot convert, or with `-s` skips it and exits 0;
this command converts every convertible rule, reports each failure with its file and cause, and
exits 1 when any rule failed, so a CI job can act on it.
"""

from __future__ import annotations

import argparse
import sys

from .common import (
    EXIT_FAILED,
    EXIT_OK,
    CommandError,
    Progress,
    WarningPrinter,
    add_common_arguments,
    error,
    prepare,
    summary,
)

HELP = "print the KQL of each rule; report every failure and go on"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rules", nargs="+", metavar="RULES", help="Sigma rule files or folders")
    add_common_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from ..batch import iter_convert
    from ..query_guard import QueryGuard

    try:
        pipeline, options, files = prepare(args, args.rules)
    except CommandError as problem:
        error(str(problem))
        return problem.code
    progress = Progress(len(files), "Converting")
    queries: list[str] = []
    failures: list[str] = []
    details: dict[str, str] = {}
    guard = QueryGuard()  # no query Microsoft's parser rejects is written
    with WarningPrinter(args.verbose, progress):
        items = iter_convert(files, pipeline, options, on_file=lambda _path: progress.advance(), guard=guard)
        for item in items:
            if hasattr(item, "query"):
                queries.append(item.query)
            else:
                failures.append(item.line())
                details[item.line()] = item.details
        guard.close()
        progress.close()
    sys.stdout.write("\n\n".join(queries) + ("\n" if queries else ""))
    summary(len(queries), failures, details=details, verbose=args.verbose)
    return EXIT_FAILED if failures else EXIT_OK
