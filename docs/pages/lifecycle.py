"""docs/lifecycle.md: the manifest's fields, the canonical form and the plan's actions, from the code."""

from __future__ import annotations

import re
from collections.abc import Callable

from sigma_azure_aks.lifecycle import canonical
from sigma_azure_aks.lifecycle.manifest import RULE_FIELDS
from sigma_azure_aks.lifecycle.plan import ACTIONS, SYMBOLS

PAGE = "lifecycle.md"


def _table(head: tuple[str, str], rows: dict[str, str], name: Callable[[str], str]) -> str:
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    lines += [f"| {name(key)} | {' '.join(text.split())} |" for key, text in rows.items()]
    return "\n".join(lines) + "\n"


def canonical_rules() -> str:
    """The bullet list of :mod:`canonical`'s docstring."""
    text = canonical.__doc__ or ""
    body = text.split("\n\n", 1)[1]
    return body.replace("\\\\", "\\").strip() + "\n"


BLOCKS: dict[str, Callable[[], str]] = {
    "manifest fields": lambda: _table(("field", "meaning"), RULE_FIELDS, lambda key: f"`{key}`"),
    "canonical form": canonical_rules,
    "plan actions": lambda: _table(("line", "when"), ACTIONS, lambda key: f"`{SYMBOLS[key]} {key}`"),
}


def render(current: str) -> str:
    text = current
    for name, make in BLOCKS.items():
        block = re.compile(
            rf"(<!-- {name}: generated -->\n)(.*?)(<!-- end of generated {name} -->)", re.DOTALL
        )
        if not block.search(text):
            raise SystemExit(f"{PAGE}: no generated {name} markers")
        text = block.sub(lambda m, make=make: m.group(1) + make() + m.group(3), text)
    return text
