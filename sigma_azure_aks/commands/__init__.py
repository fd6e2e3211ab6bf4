"""`sigma-azure-aks`: convert rules, export analytics rules, validate queries, replay rules on events,
plan a deployment.

Each subcommand is one module with `HELP`, `add_arguments(parser)` and `run(args) -> exit code`
(and `take_extra_arguments(args, extras)` where arguments after an option's value are its own);
the modules import pySigma and the rest of the package only when they run, so `--help` is quick.
Exit codes: :data:`.common.EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from . import convert, export, plan, replay, validate
from .common import EXIT_CODES

COMMANDS: dict[str, ModuleType] = {
    "convert": convert,
    "export": export,
    "validate": validate,
    "replay": replay,
    "plan": plan,
}
RULE_COMMANDS = ("convert", "export", "validate", "replay")
"""The commands that read Sigma rules (and take `-p`/`-O`); `plan` reads an export's manifest."""


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="sigma-azure-aks",
        description="Sigma rules about Azure, compiled for Microsoft Sentinel.",
        epilog="Exit codes: " + "; ".join(f"{code} {text}" for code, text in EXIT_CODES.items()) + ".",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: parse the command line, run the subcommand, return its exit code."""
    parser = build_parser()
    args, extras = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    module = COMMANDS[args.command]
    take_extras = getattr(module, "take_extra_arguments", None)
    if extras and (take_extras is None or not take_extras(args, extras)):
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        return 130
