"""The accepted field names nearest to a misspelt one, for the "did you mean" of an unknown field."""

from __future__ import annotations

from ..messages import nearest_names
from .base import FieldMap


def accepted_names(field_map: FieldMap) -> list[str]:
    """Every field name that resolves as written, and every column the names reach that resolves too."""
    columns = [c for c in field_map.targeted_columns() if c not in field_map.exact and field_map.resolve(c)]
    return [*field_map.exact, *dict.fromkeys(columns)]


def nearest_fields(field_map: FieldMap, name: str, count: int = 2) -> list[str]:
    """The accepted names nearest to `name`, one per column they reach (two spellings of one column
    are one suggestion)."""
    found: dict[str, str] = {}
    for candidate in nearest_names(name, accepted_names(field_map), count=5):
        target = field_map.resolve(candidate)
        found.setdefault(target.kql() if target else candidate, candidate)
    return list(found.values())[:count]
