"""`sigma-azure-aks plan NEW [--previous OLD] [--workspace FILE]...`: what deploying an export would do.

NEW and OLD are manifests `export` wrote (`sentinel-manifest.json`) or the folders holding them;
`--workspace` reads the alert rules a workspace holds (see :mod:`sigma_azure_aks.lifecycle.workspace`).
One line per rule on stdout (unchanged ones with `--verbose`), the summary on stderr;
`--format json` prints the whole plan as one JSON object (its `delete` lists the alert rules to delete).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..lifecycle.manifest import MANIFEST_NAME
from .common import EXIT_CHANGES_PENDING, EXIT_OK, EXIT_USAGE, WarningPrinter, error

HELP = "compare a new export with the last deployment and the workspace: rules to add, change, remove; drift"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "new", metavar="NEW", help=f"the new export's manifest, or its --out folder (holding {MANIFEST_NAME})"
    )
    parser.add_argument(
        "--previous",
        metavar="OLD",
        help="the manifest of the last deployment (or its folder): what these exports managed before",
    )
    parser.add_argument(
        "--workspace",
        action="append",
        default=[],
        metavar="FILE",
        help="the workspace's alert rules: an ARM template from Analytics > Export, the REST API's list, "
        "or `az sentinel alert-rule list` output; a folder: its .json files (repeatable)",
    )
    parser.add_argument(
        "--format", choices=("text", "json"), default="text", help="text (one line per rule) or json"
    )
    parser.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help=f"exit {EXIT_CHANGES_PENDING} when the plan has changes, 0 when it has none",
    )
    parser.add_argument("--verbose", "-v", action="store_true", help="list unchanged rules too")


def run(args: argparse.Namespace) -> int:
    from ..lifecycle import LifecycleInputError
    from ..lifecycle.manifest import read_manifest
    from ..lifecycle.plan import make_plan
    from ..lifecycle.workspace import load_workspace_rules

    try:
        new = read_manifest(Path(args.new))
        previous = read_manifest(Path(args.previous)) if args.previous else None
        missing = [name for name in args.workspace if not Path(name).exists()]
        if missing:
            raise LifecycleInputError(f"no such file or folder: {missing[0]}")
        workspace = load_workspace_rules([Path(name) for name in args.workspace]) if args.workspace else None
    except LifecycleInputError as problem:
        error(str(problem))
        return EXIT_USAGE
    plan = make_plan(new, previous, workspace)
    plan.compared = {
        "new": new.path,
        "previous": previous.path if previous else None,
        "workspace": list(args.workspace) or None,
    }
    with WarningPrinter(args.verbose) as printer:
        if new.failures:
            printer.show(
                f"the new export has {len(new.failures)} failed rule(s) ({new.path}); the rules they "
                "deployed before are kept, not removed"
            )
        if previous is None:
            printer.show(
                "no --previous manifest: removed rules cannot be found (nothing is proposed for deletion)"
            )
    if args.format == "json":
        sys.stdout.write(json.dumps(plan.as_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    else:
        for entry in plan.entries:
            if entry.action != "unchanged" or args.verbose:
                sys.stdout.write(entry.line() + "\n")
    sys.stderr.write(plan.summary() + "\n")
    return EXIT_CHANGES_PENDING if args.detailed_exitcode and plan.pending else EXIT_OK
