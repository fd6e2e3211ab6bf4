"""`sigma-azure-aks`: export analytics rules, validate queries, replay rules on events.

Exit codes (for CI jobs): 0 all good; 1 a rule failed to convert, a query has an error, or
(replay with --expect) an expectation failed; 2 wrong usage; 3 a needed optional component
(node and the KQL parser package, or the replay engine) is missing.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_MISSING_COMPONENT = 3
EXIT_NOT_REPLAYED = 4  # replay: every rule converted, some queries the local engine cannot run

# subcommand -> module with add_arguments(parser) and run(args) -> int, imported only when used
COMMANDS = {
    "convert": ("sigma_azure_aks.convert", "print the KQL of each rule; report every failure and go on"),
    "export": ("sigma_azure_aks.export", "write one file per rule and format, and Import-ready ARM bundles"),
    "validate": ("sigma_azure_aks.validate", "check queries with Microsoft's KQL parser"),
    "replay": ("sigma_azure_aks.replay.command", "run rules on events locally"),
}


class UsageError(ValueError):
    """A command-line value that cannot be used (exit code 2)."""


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


def parse_options(items: list[str]) -> dict[str, str]:
    """`-O KEY=VALUE` items as a mapping; UsageError for an item without `=`."""
    options: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"option {item!r} is not KEY=VALUE")
        options[key.strip()] = value.strip()
    return options


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="sigma-azure-aks",
        description="Sigma rules about Azure, compiled for Microsoft Sentinel.",
        epilog="Exit codes: 0 ok, 1 a rule or query failed, 2 usage, 3 missing optional component.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        command_parser = sub.add_parser(name, help=help_text, description=help_text)
        if selected is None or selected == name:
            importlib.import_module(module_name).add_arguments(command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in args_list if a in COMMANDS), None)
    parser = build_parser(selected)
    args = parser.parse_args(args_list)
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
