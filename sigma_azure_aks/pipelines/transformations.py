"""pySigma transformations of this package: claim a table for a rule, map its fields, expand
status spellings, refuse what the stock Kusto target would render wrong, and prepend the table.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sigma.conditions import ConditionAND
from sigma.exceptions import SigmaTransformationError
from sigma.processing.postprocessing import QueryPostprocessingTransformation
from sigma.processing.transformations.base import (
    DetectionItemTransformation,
    PreprocessingTransformation,
)
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaLogSource, SigmaRule
from sigma.types import SigmaCasedString, SigmaFieldReference, SigmaString

from ..messages import COLUMNS_PAGE, DetailedError, field_list_details, unknown_field_line
from ..semantics import negated_items
from ..sources import FieldMap, Spellings, describe_logsource, sources_for_logsource
from ..sources.nearest import nearest_fields
from .dispatch import DispatchTransformation
from .state import (
    CLAIMED_BY,
    QUERY_TABLE,
    SENTINEL_BACKEND_NAME,
    STOCK_KUSTO_PREPEND_ID,
    claimer_of,
    rule_label,
)
from .stock_kusto import stock_kusto_problem


def logsource_matches(logsource: SigmaLogSource, accepted: Iterable[SigmaLogSource]) -> bool:
    """True when the rule's log source is one of `accepted` (fields left out of those ignored)."""
    return any(logsource in candidate for candidate in accepted)


@dataclass
class ClaimTableTransformation(PreprocessingTransformation):
    """Claims a rule for a table when its log source matches and no other pipeline claimed it."""

    claimer: str
    table: str
    logsources: tuple[SigmaLogSource, ...]

    def apply(self, rule: Any) -> None:
        super().apply(rule)
        state = self._pipeline.state
        if not isinstance(rule, SigmaRule) or state.get(CLAIMED_BY) is not None:
            return
        if logsource_matches(rule.logsource, self.logsources):
            state[QUERY_TABLE] = self.table
            state[CLAIMED_BY] = self.claimer


@dataclass
class RuleDetectionItemTransformation(DetectionItemTransformation):
    """A detection-item transformation that knows its rule, to name it in error messages."""

    _rule: ClassVar[Any] = None  # set per rule in apply(); not a dataclass field

    def apply(self, rule: Any) -> None:
        self._rule = rule
        super().apply(rule)


@dataclass
class MapFieldsTransformation(RuleDetectionItemTransformation):
    """Maps every field of a claimed rule through a FieldMap; an unknown field is an error."""

    field_map: FieldMap
    # The source's value spellings: two spellings of one value are not a contradiction.
    spellings: tuple[Spellings, ...] = ()
    # Each field name's scalar column (None: unknown, array, structure or routed), as first found.
    _scalar_columns: dict[str, str | None] = field(default_factory=dict, init=False, repr=False, compare=False)

    def apply(self, rule: Any) -> None:
        if isinstance(rule, SigmaRule):
            from .contradictions import contradiction_message, contradictions, scalar_column

            columns = self._scalar_columns

            def column_of(field_name: str) -> str | None:
                if field_name not in columns:
                    columns[field_name] = scalar_column(self.field_map, field_name)
                return columns[field_name]

            found = contradictions(rule.detection.detections, column_of, self.spellings)
            if found:
                note = self.field_map.notes.get(found[0].column)
                raise SigmaTransformationError(
                    contradiction_message(rule_label(rule), self.field_map.table, found[0], note)
                )
        super().apply(rule)

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> SigmaDetectionItem | None:
        name = detection_item.field
        if name is None:
            return None
        target = self.field_map.resolve(name)
        if target is None:
            raise unknown_field(self.field_map, name, rule_label(self._rule), self.field_map.missing_reason(name))
        from .values import warn_field_names_as_values

        warn_field_names_as_values(self.field_map, detection_item, rule_label(self._rule))
        detection_item.field = target.kql()
        for value in detection_item.value:
            if isinstance(value, SigmaFieldReference):
                referenced = self.field_map.resolve(value.field)
                if referenced is None:
                    raise unknown_field(self.field_map, value.field, rule_label(self._rule), how="referenced with |fieldref")
                value.field = referenced.kql()
        return detection_item


def unknown_field(field_map: FieldMap, name: str, label: str, reason: str = "", how: str = "") -> DetailedError:
    """The error of a field `field_map` has no target for: one line with the nearest accepted names;
    every accepted name in its details."""
    line = unknown_field_line(name, field_map.table, nearest_fields(field_map, name), reason, how)
    return DetailedError(f"{label}: {line}", field_list_details(field_map.table, field_map.supported_fields()))


def _expanded_values(spellings: Spellings, values: list[Any]) -> list[Any] | None:
    """Values with every spelling added; None when nothing changes."""
    expanded: list[Any] = []
    changed = False
    for value in values:
        expanded.append(value)
        if isinstance(value, SigmaString) and not value.contains_special():
            kind = SigmaCasedString if isinstance(value, SigmaCasedString) else SigmaString
            for spelling in spellings.of(value.to_plain())[1:]:
                expanded.append(kind(spelling))
                changed = True
    return expanded if changed else None


@dataclass
class ExpandSpellingsTransformation(DetectionItemTransformation):
    """A value in one spelling (Success) also matches the others (Succeeded)."""

    spellings: Spellings

    def apply_detection_item(
        self, detection_item: SigmaDetectionItem
    ) -> SigmaDetectionItem | SigmaDetection | None:
        column = self.spellings.column
        if detection_item.field != column:
            return None
        if detection_item.value_linking is ConditionAND and len(detection_item.value) > 1:
            # `|all`: each value must match, in any of its spellings.
            return SigmaDetection(
                detection_items=[
                    SigmaDetectionItem(column, [], _expanded_values(self.spellings, [value]) or [value])
                    for value in detection_item.value
                ],
                item_linking=ConditionAND,
            )
        expanded = _expanded_values(self.spellings, detection_item.value)
        if expanded is None:
            return None
        detection_item.value = expanded
        return detection_item


@dataclass
class RefuseStockMisrenderingTransformation(RuleDetectionItemTransformation):
    """Under any target other than `sentinel`, refuse the constructs the stock Kusto target
    renders wrong (dotted fields, inner wildcards, null, keywords, ...), naming what and why."""

    _negated: set[int] = field(init=False, default_factory=set, repr=False)

    def apply(self, rule: Any) -> None:
        if self._pipeline.vars.get("backend") == SENTINEL_BACKEND_NAME:
            return
        self._negated = negated_items(rule) if isinstance(rule, SigmaRule) else set()
        super().apply(rule)

    def apply_detection_item(self, detection_item: SigmaDetectionItem) -> None:
        negated = id(detection_item) in self._negated
        problem = stock_kusto_problem(detection_item, self._pipeline.state.get(QUERY_TABLE), negated)
        if problem:
            raise SigmaTransformationError(
                f"{rule_label(self._rule)}: {problem}; the stock kusto target would render it wrong. "
                "Convert with `-t sentinel`, which expresses it exactly."
            )
        return None


@dataclass
class PrependTableTransformation(QueryPostprocessingTransformation):
    """Writes `<table>\\n| where <condition>`, exactly once.

    When pySigma-backend-kusto's own prepend item is in the pipeline too (`-p azure_monitor` beside
    ours), it writes the same table from the same state key, so this one steps aside.
    """

    def apply(self, rule: Any, query: Any) -> Any:
        super().apply(rule, query)
        table = self._pipeline.state.get(QUERY_TABLE)
        if not isinstance(query, str) or not table:
            return query
        if any(item.identifier == STOCK_KUSTO_PREPEND_ID for item in self._pipeline.postprocessing_items):
            return query
        header = f"{table}\n| where "
        if query.startswith(f"{table}\n| "):  # a where clause, or a source's preamble (extend, where)
            return query
        return header + query


@dataclass
class PreambleTransformation(QueryPostprocessingTransformation):
    """Writes `preamble` in place of the table before the rule's where clause, for the rules
    `claimer` claimed (legacy routes that parse the event, unions of tables); the plain table
    prepend then steps aside."""

    claimer: str
    table: str
    preamble: str

    def apply(self, rule: Any, query: Any) -> Any:
        super().apply(rule, query)
        if not isinstance(query, str) or self._pipeline.state.get(CLAIMED_BY) != self.claimer:
            return query
        if query.startswith(self.preamble + "\n"):
            return query
        header = f"{self.table}\n| where "
        condition = query[len(header) :] if query.startswith(header) else query
        return f"{self.preamble}\n| where {condition}"


def _pipelines_taking(logsource: SigmaLogSource) -> list[str]:
    """Our pipelines that claim rules of `logsource`, the default one first."""
    sources = sorted(sources_for_logsource(logsource), key=lambda source: not source.default)
    return [source.pipeline for source in sources if source.pipeline]


@dataclass
class RequireTableTransformation(PreprocessingTransformation):
    """Fails a rule that no pipeline gave a table: one line naming its log source and the way forward
    (the pipeline of ours that takes it, else the installed kusto pipelines that do); every supported
    log source in the details."""

    supported: list[str]
    refused: list[tuple[SigmaLogSource, str]] = field(default_factory=list)

    def apply(self, rule: Any) -> None:
        super().apply(rule)
        if self._pipeline.state.get(QUERY_TABLE) or not isinstance(rule, SigmaRule):
            return  # a correlation rule reads the tables of the rules it references
        logsource = getattr(rule, "logsource", None)
        described = describe_logsource(logsource) if logsource is not None else ""
        for refused, reason in self.refused:
            if logsource is not None and logsource in refused:
                raise SigmaTransformationError(f"{rule_label(rule)}: log source ({described}): {reason}")
        details = f"Supported log sources: {'; '.join(self.supported)}."
        takers = _pipelines_taking(logsource) if logsource is not None else []
        if takers:
            also = f" (or {', '.join(takers[1:])})" if takers[1:] else ""
            raise DetailedError(
                f"{rule_label(rule)}: no table for log source ({described}) in the pipelines applied "
                f"({', '.join(self._applied()) or 'none of this package'}); -p {takers[0]}{also} takes it",
                details,
            )
        from .kusto_pipelines import kusto_way_forward

        way = kusto_way_forward(logsource) if logsource is not None else ""
        raise DetailedError(
            f"{rule_label(rule)}: no Sentinel table for log source ({described or 'none'}) in {COLUMNS_PAGE}; "
            f"{way or 'no installed pipeline takes it'}",
            details,
        )

    def _applied(self) -> list[str]:
        """Our pipelines applied to the rule (their table claims, also those a dispatch item makes
        for the default sources), in order."""
        identifiers: list[str | None] = []
        for item in self._pipeline.items:
            if isinstance(item.transformation, DispatchTransformation):
                identifiers += item.transformation.claim_identifiers()
            else:
                identifiers.append(item.identifier)
        claimers = (claimer_of(identifier) for identifier in identifiers)
        return list(dict.fromkeys(claimer for claimer in claimers if claimer))
