"""What the shared samples show of every dynamic column: its shape and its member paths.

The sources declare their dynamic columns as data (structures, objects, arrays of strings, member
paths); this module derives the same facts from the real rows in the shared samples, so that a test
can hold the declarations to the data. Run it to print what the samples show:

    python tests/declared_shapes.py [SHARED]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The Log Analytics exports in the shared samples, by table.
SAMPLE_FILES = {
    "SigninLogs": "entra/signinlogs_export.jsonl",
    "AuditLogs": "entra/auditlogs_export.jsonl",
    "OfficeActivity": "entra/officeactivity_export.jsonl",
}


@dataclass
class ColumnShape:
    """What the rows show of one dynamic column."""

    kinds: set[str] = field(default_factory=set)  # object, array, pairs, strings, empty
    members: set[str] = field(default_factory=set)  # dotted member paths of objects (every level)
    element_members: set[str] = field(default_factory=set)  # members of array elements
    nested: dict[str, set[str]] = field(default_factory=dict)  # element member -> members of its elements
    pair: tuple[str, str] | None = None


def _object_paths(value: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[str]:
    for key, inner in value.items():
        path = (*prefix, key)
        yield ".".join(path)
        if isinstance(inner, Mapping):
            yield from _object_paths(inner, path)


def _pair_names(elements: list[Any]) -> tuple[str, str] | None:
    keys = {frozenset(e) for e in elements if isinstance(e, Mapping)}
    if len(keys) == 1:
        names = sorted(next(iter(keys)))
        for key_name, value_name in (("key", "value"), ("Key", "Value"), ("Name", "Value")):
            if sorted((key_name, value_name)) == names:
                return key_name, value_name
    return None


def observe(shape: ColumnShape, value: Any) -> None:
    """Adds what one row's value of the column shows."""
    if isinstance(value, str) and value[:1] in "[{":
        value = json.loads(value)
    if isinstance(value, Mapping):
        shape.kinds.add("object")
        shape.members.update(_object_paths(value))
    elif isinstance(value, list):
        if not value:
            shape.kinds.add("empty")
        elif all(isinstance(e, str) for e in value):
            shape.kinds.add("strings")
        elif all(isinstance(e, Mapping) for e in value):
            pair = _pair_names(value)
            if pair is not None:
                shape.kinds.add("pairs")
                shape.pair = pair
                return
            shape.kinds.add("array")
            for element in value:
                for key, inner in element.items():
                    shape.element_members.add(key)
                    if isinstance(inner, list) and inner and all(isinstance(e, Mapping) for e in inner):
                        shape.nested.setdefault(key, set()).update(k for e in inner for k in e)


def sample_rows(shared: Path, table: str) -> list[dict[str, Any]]:
    path = shared / "samples" / SAMPLE_FILES[table]
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def shapes(rows: Iterable[Mapping[str, Any]], dynamic: Iterable[str]) -> dict[str, ColumnShape]:
    """Column -> what the rows show, for the given dynamic columns."""
    found = {column: ColumnShape() for column in dynamic}
    for row in rows:
        for column, shape in found.items():
            if row.get(column) is not None:
                observe(shape, row[column])
    return found


def reference_dynamic_columns(shared: Path, table: str) -> list[str]:
    """The columns Microsoft's table reference types as dynamic."""
    document = json.loads((shared / "reference" / "tables" / f"{table}.json").read_text(encoding="utf-8"))
    return [p["Name"] for p in document["Properties"] if p["Type"] == "dynamic"]


def main(shared: Path) -> None:
    for table in SAMPLE_FILES:
        for column, shape in shapes(sample_rows(shared, table), reference_dynamic_columns(shared, table)).items():
            print(table, column, sorted(shape.kinds), shape.pair or "")
            for name, values in (("members", shape.members), ("element members", shape.element_members)):
                if values:
                    print(f"    {name}: {', '.join(sorted(values))}")
            for name, inner in shape.nested.items():
                print(f"    nested {name}: {', '.join(sorted(inner))}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared"))


def bracket_depth(value: Any) -> int:
    """Levels of brackets in the JSON text of a value."""
    if isinstance(value, (dict, list)):
        inner = value.values() if isinstance(value, dict) else value
        return 1 + max(map(bracket_depth, inner), default=0)
    return 0
