"""docs/aks.md: the field table of the Kubernetes audit source, from its field map."""

from __future__ import annotations

import re

from sigma_azure_aks.sources import FieldMap
from sigma_azure_aks.sources.aks_audit import FIELD_MAP, is_array_field

PAGE = "aks.md"
BLOCK = re.compile(
    r"(<!-- field table: generated -->\n\n)(?P<body>.*?)(\n<!-- end of generated field table -->)", re.DOTALL
)


def field_table_markdown(field_map: FieldMap = FIELD_MAP) -> str:
    """The field-map table: each column with the Sigma names that reach it, each prefix, each
    field the table has no column for."""
    lines = [f"| Sigma field | {field_map.table} | note |", "|---|---|---|"]
    by_target: dict[str, list[str]] = {}
    for name, target in field_map.exact.items():
        by_target.setdefault(target.kql(), []).append(name)
    notes = dict(field_map.notes)
    for kql_text, names in by_target.items():
        names.sort(key=lambda n: (n[:1].isupper(), n))
        note = next((notes[n] for n in names if n in notes), "")
        if not note and is_array_field(names[0]):
            note = "an array: any element matches"
        shown = ", ".join(f"`{n}`" for n in names)
        lines.append(f"| {shown} | `{kql_text}` | {note} |")
    for prefix in field_map.prefixes:
        pattern = f"{prefix.prefix}<{'key' if prefix.whole_key else 'path'}>"
        example = prefix.target(prefix.prefix + ("a.b/c" if prefix.whole_key else "a.b"))
        shown = example.kql() if example else prefix.column
        lines.append(f"| `{pattern}` | `{shown}` | {prefix.note} |")
    for name, reason in field_map.missing.items():
        lines.append(f"| `{name}` | — | {reason} |")
    return "\n".join(lines) + "\n"


def render(current: str) -> str:
    if not BLOCK.search(current):
        raise SystemExit(f"{PAGE}: no generated field table markers")
    return BLOCK.sub(lambda m: m.group(1) + field_table_markdown() + m.group(3), current)
