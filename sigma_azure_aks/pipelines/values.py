"""Values whose meaning depends on where they land, read from a source's field map (declared as
data on :class:`~sigma_azure_aks.sources.FieldMap`), for any source:

- value routes: a field whose values mean conditions elsewhere (SigninLogs `Status: Success` ->
  ``ResultType == "0"``; any other value is matched against the route's text fields);
- structures: dynamic columns holding arrays or objects of objects (AuditLogs TargetResources,
  AdditionalDetails, InitiatedBy): a value matches a member of some element (see :mod:`.arrays`);
- arrays of strings: a value matches some element;
- enumerations: a plain value that is not one of a target's documented values never matches: warn;
- a field written in another case than any known name: warn (it resolves ignoring case).

Runs before the field mapping (it reads the rule's own field names).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sigma.conditions import ConditionOR
from sigma.exceptions import SigmaTransformationError
from sigma.rule import SigmaDetection, SigmaDetectionItem
from sigma.types import SigmaNumber, SigmaString, SpecialChars

from ..notices import RuleWarning, emit
from ..sources import FieldMap, FieldTarget, Structure, ValueRoute
from .arrays import array_value, expression, structure_value
from .state import rule_label
from .transformations import RuleDetectionItemTransformation


class FieldValueWarning(RuleWarning):
    """A rule value or field name can never match what the table holds, or was read another way."""


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

    def apply_detection_item(
        self, detection_item: SigmaDetectionItem
    ) -> SigmaDetectionItem | SigmaDetection | None:
        name = detection_item.field
        if name is None:
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
        """The member path inside the structure, with the members' real spelling."""
        if not target.path or structure.kind == "pairs":
            return target.path[:1]
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
