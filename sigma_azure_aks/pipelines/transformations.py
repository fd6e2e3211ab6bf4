"""pySigma transformations of this package: claim a table for a rule, map its fields, expand
status spellings, refuse what the stock Kusto target would render wrong, and prepend the table.
"""

from __future__ import annotations

import re
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
from ..sources import FieldMap, FieldTarget, Spellings, describe_logsource, sources_for_logsource
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
                label = rule_label(self._rule)
                if referenced is None:
                    reason = self.field_map.missing_reason(value.field)
                    how = "referenced with |fieldref"
                    raise unknown_field(self.field_map, value.field, label, reason, how=how)
                problem = referenced_field_problem(self.field_map, value.field, referenced)
                if problem:
                    raise SigmaTransformationError(
                        f"{label}: field '{name}': its |fieldref '{value.field}' {problem}, and KQL reads no "
                        "single value of it to compare with (the query would silently match nothing); "
                        f"compare '{name}' with plain values, or reference a field that holds one value per event"
                    )
                value.field = referenced.kql()
        return detection_item


def referenced_field_problem(field_map: FieldMap, name: str, target: FieldTarget) -> str | None:
    """Why a field named by |fieldref has no one value per event to compare with (None: it has):
    a value route, a member of a column whose members are unknown, a structure of objects or a
    member of its elements (member access on an array is null in KQL), an array of strings."""
    route = field_map.route(name)
    if route is not None:
        return f"is read by its meaning ({route.note or 'a value route'}), not as one value"
    column = target.column
    if target.path and column in field_map.opaque:
        return f"names a member of {column}, whose members are unknown ({field_map.opaque[column]})"
    structure = field_map.structure(column)
    if structure is not None and structure.kind == "pairs":
        pairs = f"{column}, an array of {'/'.join(structure.pair)} pairs"
        if not target.path:
            return f"is the whole of {pairs}"
        return f"is the {structure.pair[1]} of the pair named '{'.'.join(target.path)}' in {pairs}"
    if structure is not None and structure.kind == "array":
        objects = f"{column}, an array of objects"
        return f"is a member of the elements of {objects}" if target.path else f"is the whole of {objects}"
    if structure is not None and not target.path:
        return f"is the whole of {column}, an object"
    if field_map.is_array(target):
        return f"is {target.kql()}, an array of strings"
    return None


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


# A union leg's filter is a copy of the rule's condition: written into the legs only while the
# copies keep the query far below Sentinel's 10,000-character limit for an analytics rule.
PUSHED_FILTER_LENGTH = 2_000
_BRACKETED_NAME = re.compile(r'\[\s*"((?:[^"\\]|\\.)*)"\s*\]')
_STRING_LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class UnionLeg:
    """A table of a union beside the claimed one: its columns, and those it holds as text where the
    claimed table has them dynamic (parsed in the leg, so every column has one type)."""

    table: str
    columns: frozenset[str]
    parsed: tuple[str, ...]


def condition_names(condition: str) -> set[str] | None:
    """The names a KQL condition written by the target reads (columns, and also functions, operators
    and member names: a superset of its columns); None when it searches the whole row (`*`)."""
    names = set(_BRACKETED_NAME.findall(condition))
    code = _STRING_LITERAL.sub(" ", _BRACKETED_NAME.sub(" ", condition))
    if "*" in code:
        return None
    return names | set(_NAME.findall(code))


def conjuncts(condition: str) -> list[str]:
    """The operands of a KQL condition's top-level `and` (the condition itself when its top level
    is not a conjunction): split at ` and ` outside parentheses, brackets and string literals;
    a top-level ` or ` (which binds less tightly) keeps the condition whole."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(condition):
        char = condition[i]
        if char == '"':
            literal = _STRING_LITERAL.match(condition, i)
            i = literal.end() if literal else len(condition)
            continue
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif depth == 0 and condition.startswith(" or ", i):
            return [condition]
        elif depth == 0 and condition.startswith(" and ", i):
            parts.append(condition[start:i])
            start = i + len(" and ")
            i = start
            continue
        i += 1
    return [*parts, condition[start:]]


def union_text(table: UnionLeg, legs: tuple[UnionLeg, ...], condition: str) -> str:
    """`union isfuzzy=true <table>, <legs> | where <condition>`. A leg with columns to parse first
    keeps the rows of the operands of the condition's top-level `and` that read none of them and
    only columns the leg has (so they read the same values before the parse as after, and the leg
    resolves): only those rows are parsed. The union's own filter stays whole, and the condition
    implies each of its operands, so every leg keeps exactly the rows it kept before."""
    every_column = set(table.columns).union(*(leg.columns for leg in legs))
    operands = conjuncts(condition) if len(condition) <= PUSHED_FILTER_LENGTH else []
    parts = [table.table]
    for leg in legs:
        if not leg.parsed:
            parts.append(leg.table)
            continue
        parse = f"extend {', '.join(f'{c} = todynamic({c})' for c in leg.parsed)}"
        kept = [operand for operand in operands if _reads_before_parse(operand, leg, every_column)]
        first = f"where {' and '.join(kept)} | " if kept else ""
        parts.append(f"({leg.table} | {first}{parse})")
    return "union isfuzzy=true " + ",\n    ".join(parts) + f"\n| where {condition}"


def _reads_before_parse(condition: str, leg: UnionLeg, every_column: set[str]) -> bool:
    """Whether `condition` reads only columns `leg` has, none of those it parses, and not the whole row."""
    names = condition_names(condition)
    if names is None:
        return False
    read = names & (every_column | set(leg.parsed))
    return read <= leg.columns and not read & set(leg.parsed)


@dataclass
class UnionTransformation(QueryPostprocessingTransformation):
    """Writes the union of `table` (the claimed one, nothing parsed) and its `legs` in place of the
    table, for the rules `claimer` claimed (see :func:`union_text`); the plain table prepend then
    steps aside."""

    claimer: str
    table: UnionLeg
    legs: tuple[UnionLeg, ...]

    def apply(self, rule: Any, query: Any) -> Any:
        super().apply(rule, query)
        if not isinstance(query, str) or self._pipeline.state.get(CLAIMED_BY) != self.claimer:
            return query
        if query.startswith("union isfuzzy=true "):
            return query
        header = f"{self.table.table}\n| where "
        condition = query[len(header) :] if query.startswith(header) else query
        return union_text(self.table, self.legs, condition)


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
