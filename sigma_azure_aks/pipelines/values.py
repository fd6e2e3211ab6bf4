"""Values whose meaning depends on where they land, read from a source's field map (declared as
data on :class:`~sigma_azure_aks.sources.FieldMap`), for any source:

- value routes: a field whose values mean conditions elsewhere (SigninLogs `Status: Success` ->
  ``ResultType == "0"``; `null`, `|exists` and `*` test the field itself; any other value is
  matched against the route's text fields);
- structures: dynamic columns holding arrays or objects of objects (AuditLogs TargetResources,
  AdditionalDetails, InitiatedBy): a value matches a member of some element (see :mod:`.arrays`);
  items of one selection on different members of one level of an array of objects are read in
  one element; the items that cannot be (and `|all` values) warn;
- arrays of strings: a value matches some element;
- enumerations: a plain value that is not one of a target's documented values never matches: warn;
- a field written in another case than any known name: warn (it resolves ignoring case); a member
  level that the column's declared member paths do not know: warn (it is read as written);
- a member path into a column whose members no reference documents: refused.

Runs before the field mapping (it reads the rule's own field names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sigma.conditions import ConditionAND, ConditionOR
from sigma.exceptions import SigmaTransformationError
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    SigmaBool,
    SigmaExists,
    SigmaNull,
    SigmaNumber,
    SigmaQueryExpression,
    SigmaString,
    SpecialChars,
)

from ..notices import RuleWarning, emit
from ..sources import FieldMap, FieldTarget, Structure, ValueRoute
from .arrays import array_value, expression, same_element_value, structure_value
from .state import rule_label
from .transformations import RuleDetectionItemTransformation


class FieldValueWarning(RuleWarning):
    """A rule value or field name can never match what the table holds, or was read another way."""


# Items read in one element at most (each order of their members is one alternative of the pattern).
MAX_ONE_ELEMENT_ITEMS = 3


def _read_already(item: SigmaDetectionItem) -> bool:
    """An item this transformation wrote (a test of one element): nothing more to rewrite."""
    return bool(item.value) and all(isinstance(v, SigmaQueryExpression) for v in item.value)


def _any_value(value: Any) -> bool:
    """`*` alone: the field holds some value."""
    return isinstance(value, SigmaString) and bool(value.s) and all(
        part == SpecialChars.WILDCARD_MULTI for part in value.s
    )


def warn_field_names_as_values(field_map: FieldMap, item: SigmaDetectionItem, label: str) -> None:
    """Warn when a value (wildcards at its ends aside) is the dotted name of a field of the table
    (``userIdentity.arn|contains: responseElements.accessKey.userName``): Sigma compares it as text,
    and the rule most likely meant |fieldref."""
    for value in item.value:
        if not isinstance(value, SigmaString):
            continue
        parts = list(value.s)
        while parts and parts[0] == SpecialChars.WILDCARD_MULTI:
            parts.pop(0)
        while parts and parts[-1] == SpecialChars.WILDCARD_MULTI:
            parts.pop()
        if len(parts) != 1 or not isinstance(parts[0], str) or "." not in parts[0]:
            continue
        text = parts[0]
        if field_map.resolves_exactly(text):
            emit(
                FieldValueWarning(
                    f"{label}: the value '{text}' of field '{item.field}' names a field of "
                    f"{field_map.table}, and Sigma compares it as text; if the rule means that "
                    "field's value, write it with |fieldref"
                )
            )


def _plain(value: Any) -> str | None:
    if isinstance(value, SigmaNumber):
        return str(value.number)
    if isinstance(value, SigmaString) and not value.contains_special():
        return value.to_plain()
    return None


@dataclass
class FieldValuesTransformation(RuleDetectionItemTransformation):
    """Rewrites the values of a claimed rule by the field map's value rules (see the module)."""

    field_map: FieldMap

    def apply(self, rule: Any) -> None:
        if isinstance(rule, SigmaRule):
            for name, detection in rule.detection.detections.items():
                self._read_in_one_element(rule_label(rule), detection)
                self._warn_other_elements(rule_label(rule), name, detection)
        super().apply(rule)

    def _read_in_one_element(self, label: str, detection: SigmaDetection) -> None:
        """Items of one selection on different members of one array of objects (members of its
        elements, and members of the elements of at most one of their nested arrays) become one
        test of one element."""
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                self._read_in_one_element(label, item)
        if detection.item_linking is not ConditionAND:
            return
        groups: dict[str, list[tuple[SigmaDetectionItem, str | None, str]]] = {}
        for item in detection.detection_items:
            place = self._element_member(label, item) if isinstance(item, SigmaDetectionItem) else None
            if place is not None:
                column, head, member = place
                groups.setdefault(column, []).append((item, head, member))
        for column, members in groups.items():
            places = [(head, member) for _, head, member in members]
            heads = {head for head, _ in places if head is not None}
            if not 2 <= len(members) <= MAX_ONE_ELEMENT_ITEMS or len(set(places)) < len(places) or len(heads) > 1:
                continue
            top = [(member, list(item.value)) for item, head, member in members if head is None]
            nested = [(member, list(item.value)) for item, head, member in members if head is not None]
            test = same_element_value(top, next(iter(heads), None), nested)
            combined = SigmaDetectionItem(column, [], [test])
            first = detection.detection_items.index(members[0][0])
            detection.detection_items[first] = combined
            for item, _, _ in members[1:]:
                detection.detection_items.remove(item)
            combined.parent = detection

    def _element_member(self, label: str, item: SigmaDetectionItem) -> tuple[str, str | None, str] | None:
        """(column, nested array or None, member) when the item tests plain values of one member
        of the elements of an array of objects (or of one of their nested arrays)."""
        if not item.field or self.field_map.route(item.field) is not None:
            return None
        if item.value_linking is ConditionAND and len(item.value) > 1:
            return None
        if not item.value or not all(isinstance(v, (SigmaString, SigmaNumber, SigmaBool)) for v in item.value):
            return None
        target = self.field_map.resolve(item.field)
        structure = self.field_map.structure(target.column) if target is not None else None
        if target is None or structure is None or structure.kind != "array" or not target.path:
            return None
        try:
            path = self._structure_path(structure, target, item.field, label)
        except SigmaTransformationError:
            return None
        if path[-1] == "*":
            return None
        return (structure.column, None, path[0]) if len(path) == 1 else (structure.column, path[0], path[1])

    def _warn_other_elements(self, label: str, name: str, detection: SigmaDetection) -> None:
        """Warns where the items of one selection (or the values of one `|all` item) test members
        of one array of objects: each is matched on its own, so they may hold in different elements."""
        if detection.item_linking is ConditionAND:
            on: dict[str, list[str]] = {}
            for item in detection.detection_items:
                if isinstance(item, SigmaDetectionItem) and item.field and not _read_already(item):
                    column = self._array_column(item.field)
                    if column is not None:
                        on.setdefault(column, []).append(item.field)
            for column, fields in on.items():
                if len(fields) > 1:
                    emit(
                        FieldValueWarning(
                            f"{label}: selection '{name}' tests {', '.join(repr(f) for f in fields)} in {column}, "
                            "an array of objects, and they cannot be read in one element (members of two nested "
                            f"arrays, one member twice, or more than {MAX_ONE_ELEMENT_ITEMS}), so each item matches "
                            "on its own and they may hold in different elements (an event fires when one element "
                            "has one value and another element the other); accept the wider match, or split the "
                            "selection"
                        )
                    )
        for item in detection.detection_items:
            if isinstance(item, SigmaDetection):
                self._warn_other_elements(label, name, item)
            elif item.field and item.value_linking is ConditionAND and len(item.value) > 1:
                column = self._array_column(item.field)
                if column is not None:
                    emit(
                        FieldValueWarning(
                            f"{label}: selection '{name}': the values of '{item.field}' (|all) are each matched "
                            f"on their own in {column}, an array of objects, so they may hold in different "
                            "elements (KQL here has no test of one element); accept the wider match"
                        )
                    )

    def _array_column(self, name: str) -> str | None:
        """The column, when the field is (a member of) an array of objects."""
        if self.field_map.route(name) is not None:
            return None
        target = self.field_map.resolve(name)
        structure = self.field_map.structure(target.column) if target is not None else None
        return structure.column if structure is not None and structure.kind == "array" else None

    def apply_detection_item(
        self, detection_item: SigmaDetectionItem
    ) -> SigmaDetectionItem | SigmaDetection | None:
        name = detection_item.field
        if name is None or _read_already(detection_item):
            return None
        label = rule_label(self._rule)
        route = self.field_map.route(name)
        if route is not None:
            return self._route(detection_item, route)
        target = self.field_map.resolve(name)
        if target is None:
            return None
        if not self.field_map.resolves_exactly(name):
            emit(
                FieldValueWarning(
                    f"{label}: field '{name}' is not spelled as any {self.field_map.table} field, so it is read "
                    f"as '{target.kql()}' (names are matched ignoring case); spell it as docs/sources.md lists it"
                )
            )
        if target.path and target.column in self.field_map.opaque:
            raise SigmaTransformationError(
                f"{label}: field '{name}' names a member of {target.column}, whose members are unknown: "
                f"{self.field_map.opaque[target.column]}."
            )
        unresolved = self.field_map.unresolved_member(target)
        if unresolved is not None:
            emit(
                FieldValueWarning(
                    f"{label}: field '{name}': {unresolved}, so it is read as '{target.kql()}' as written and "
                    "another spelling never matches (member names are case-sensitive in KQL); check the member's name"
                )
            )
        structure = self.field_map.structure(target.column)
        if structure is not None and (structure.kind != "object" or not target.path):
            path = self._structure_path(structure, target, name, label)
            detection_item.value = [
                structure_value(structure.kind, path, v, label, name, structure.pair)
                for v in detection_item.value
            ]
            detection_item.field = target.column
            return detection_item
        if self.field_map.is_array(target):
            detection_item.value = [array_value(v, label, name) for v in detection_item.value]
            return detection_item
        self._check_enumeration(detection_item, target, label, name)
        return None

    def _route(self, item: SigmaDetectionItem, route: ValueRoute) -> SigmaDetection:
        """One detection per value: its condition, or any of the route's text fields."""
        alternatives: list[SigmaDetectionItem | SigmaDetection] = []
        for value in item.value:
            if isinstance(value, (SigmaNull, SigmaExists)) or _any_value(value):
                alternatives.append(SigmaDetectionItem(route.itself, [], [value]))
                continue
            plain = _plain(value)
            condition = route.conditions.get(plain.lower()) if plain is not None else None
            if condition is not None:
                alternatives.append(SigmaDetectionItem(route.other[0], [], [expression(condition)]))
                continue
            alternatives.append(
                SigmaDetection([SigmaDetectionItem(other, [], [value]) for other in route.other], item_linking=ConditionOR)
            )
        return SigmaDetection(alternatives, item_linking=item.value_linking)

    def _structure_path(
        self, structure: Structure, target: FieldTarget, name: str, label: str
    ) -> tuple[str, ...]:
        """The member path inside the structure, with the members' real spelling (a key of a
        pairs column is the whole rest of the field, dots included)."""
        if not target.path:
            return ()
        if structure.kind == "pairs":
            return (".".join(target.path),)
        spelled = {m.lower(): m for m in (*structure.members, *structure.nested)}
        head = spelled.get(target.path[0].lower())
        if head is not None and head in structure.nested:
            inner = {m.lower(): m for m in structure.nested[head]}
            if len(target.path) == 1:
                return (head, "*")
            member = inner.get(target.path[1].lower())
            if member is not None and len(target.path) == 2:
                return (head, member)
        elif head is not None and len(target.path) == 1:
            return (head,)
        known = [*structure.members, *(f"{n}.{m}" for n, ms in structure.nested.items() for m in ms)]
        raise SigmaTransformationError(
            f"{label}: field '{name}' names no member of {structure.column}, whose elements have "
            f"{', '.join(known)}. Use one of them, or the whole column."
        )

    def _check_enumeration(self, item: SigmaDetectionItem, target: FieldTarget, label: str, name: str) -> None:
        enumeration = self.field_map.enumeration(target)
        if enumeration is None:
            return
        allowed = {v.lower() for v in enumeration.values}
        for value in item.value:
            plain = _plain(value)
            if plain is not None and plain.lower() not in allowed:
                emit(
                    FieldValueWarning(
                        f"{label}: field '{name}' ({target.kql()}) holds one of {', '.join(enumeration.values)}"
                        f"{' (' + enumeration.source + ')' if enumeration.source else ''}; the value '{plain}' "
                        "never matches it; use one of those values"
                    )
                )
