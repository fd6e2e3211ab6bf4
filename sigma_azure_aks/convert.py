"""`sigma-azure-aks convert RULES...`: print each rule's KQL; report every failure and go on.

sigma-cli's `convert` stops at the first rule it cannot convert, or with `-s` skips it and exits 0;
this command converts every convertible rule, reports each failure with its file and cause, and
exits 1 when any rule failed, so a CI job can act on it.
"""

from __future__ import annotations

import argparse
import sys

from .cli import add_option_argument, add_pipeline_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rules", nargs="+", metavar="RULES", help="Sigma rule files or folders")
    add_pipeline_argument(parser)
    add_option_argument(parser)


def run(args: argparse.Namespace) -> int:
    from .batch import PipelineError, iter_convert, resolve_pipelines, rule_files
    from .cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, parse_options
    from .progress import Progress, summary

    try:
        pipeline = resolve_pipelines(args.pipeline)
        options = parse_options(args.option)
    except (PipelineError, UsageError) as error:
        sys.stderr.write(f"error: {error}\n")
        return EXIT_USAGE
    files = rule_files(args.rules)
    progress = Progress(len(files), "Converting")
    queries: list[str] = []
    failures: list[str] = []
    for item in iter_convert(files, pipeline, options, on_file=lambda _path: progress.advance()):
        if hasattr(item, "query"):
            queries.append(item.query)
        else:
            failures.append(item.line())
    progress.close()
    sys.stdout.write("\n\n".join(queries) + ("\n" if queries else ""))
    summary(len(queries), failures)
    return EXIT_FAILED if failures else EXIT_OK
