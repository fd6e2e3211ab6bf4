"""docs/commands.md: the exit-code table, from the commands' one table of exit codes."""

from __future__ import annotations

import re

from sigma_azure_aks.commands.common import EXIT_CODES

PAGE = "commands.md"
BLOCK = re.compile(r"(<!-- exit codes: generated -->\n)(?P<body>.*?)(<!-- end of generated exit codes -->)", re.DOTALL)


def exit_code_table() -> str:
    lines = ["| exit code | meaning |", "|---|---|"]
    lines += [f"| {code} | {meaning} |" for code, meaning in EXIT_CODES.items()]
    return "\n".join(lines) + "\n"


def render(current: str) -> str:
    if not BLOCK.search(current):
        raise SystemExit(f"{PAGE}: no generated exit-code markers")
    return BLOCK.sub(lambda m: m.group(1) + exit_code_table() + m.group(3), current)
