"""Selections no event can match because two of their fields are one column.

A field map may give two Sigma field names the same column (SigmaHQ writes the activity of an
Entra ID audit event as `OperationName` and as `properties.message`). A selection that requires
that column to equal two different values through two such names is converted faithfully into a
query that never matches: a rule that silently never fires. It is refused instead, naming both
fields and both values, before any query is written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sigma.conditions import ConditionAND
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import SigmaCasedString, SigmaString

from ..sources import FieldMap, FieldTarget, Spellings


@dataclass(frozen=True)
class Contradiction:
    selection: str
    column: str
    first: tuple[str, str]  # (Sigma field, value)
    second: tuple[str, str]


def _and_items(detection: SigmaDetection) -> Iterator[list[SigmaDetectionItem]]:
    """Groups of detection items that must all match together (the items of an AND-linked
    detection), at every depth."""
    if detection.item_linking is ConditionAND:
        yield [item for item in detection.detection_items if isinstance(item, SigmaDetectionItem)]
    for item in detection.detection_items:
        if isinstance(item, SigmaDetection):
            yield from _and_items(item)


def _required_text(item: SigmaDetectionItem) -> SigmaString | None:
    """The one plain string an item requires its field to equal, else None."""
    if item.field is None or item.modifiers or len(item.value) != 1:
        return None
    value = item.value[0]
    if not isinstance(value, SigmaString) or value.contains_special():
        return None
    return value


def scalar(field_map: FieldMap, field_name: str, target: FieldTarget) -> bool:
    """Whether a field holds one value, which can equal only one text: not an array or a structure
    (whose elements can hold both values), not a field whose values are routed elsewhere."""
    return not (
        field_map.is_array(target) or field_map.structure(target.column) or field_map.route(field_name)
    )


def _same(first: SigmaString, second: SigmaString, spellings: Spellings | None) -> bool:
    a, b = first.to_plain(), second.to_plain()
    if isinstance(first, SigmaCasedString) and isinstance(second, SigmaCasedString):
        return a == b
    if spellings is not None:
        return b.lower() in {s.lower() for s in spellings.of(a)}
    return a.lower() == b.lower()


def scalar_column(field_map: FieldMap, field_name: str) -> str | None:
    """The column a field name reaches when it holds one value; None for an unknown field, an
    array, a structure or a routed field."""
    target = field_map.resolve(field_name)
    return target.kql() if target is not None and scalar(field_map, field_name, target) else None


def contradictions(
    detections: dict[str, SigmaDetection],
    column_of: Callable[[str], str | None],
    spellings: tuple[Spellings, ...] = (),
) -> list[Contradiction]:
    """Every selection that requires one column to equal two different values through two
    different Sigma field names (`column_of`: a field name's scalar column, see scalar_column)."""
    by_column = {s.column: s for s in spellings}
    found = []
    for name, detection in detections.items():
        for group in _and_items(detection):
            required = [
                (str(item.field), value) for item in group if (value := _required_text(item)) is not None
            ]
            if len(required) < 2:
                continue  # one requirement cannot contradict itself
            seen: dict[str, tuple[str, SigmaString]] = {}
            for field_name, value in required:
                column = column_of(field_name)
                if column is None:
                    continue
                if column in seen:
                    other_field, other = seen[column]
                    if other_field != field_name and not _same(other, value, by_column.get(column)):
                        found.append(
                            Contradiction(
                                name, column, (other_field, other.to_plain()), (field_name, value.to_plain())
                            )
                        )
                else:
                    seen[column] = (field_name, value)
    return found


def contradiction_message(label: str, table: str, found: Contradiction, note: str | None) -> str:
    (field_a, value_a), (field_b, value_b) = found.first, found.second
    return (
        f"{label}: selection '{found.selection}' requires {found.column} to equal both '{value_a}' "
        f"(field '{field_a}') and '{value_b}' (field '{field_b}'), but in {table} both fields are the "
        f"column {found.column}{' (' + note + ')' if note else ''}, so the selection never matches. "
        f"Keep one of the two fields, or write the other value against the field that holds it."
    )
