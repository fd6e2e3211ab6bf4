"""Sigma correlation rules -> KQL with sliding windows (the `sentinel` target).

Every event a referenced rule matches opens a window that ends at the event and reaches `timespan`
back, both ends included: ``[t - timespan, t]``, per group. A window whose events meet the
condition is one alert (its group keys, start, end, metric and the ids of the events in it). This
is what the Sigma specification asks for ("the time frame should not be restricted to
boundaries"): ten events spread across any boundary are counted together, never split by
``bin()``. The windows are found by sweeps (a sort and running sums of entries and exits, cost
n log n per group: :mod:`.correlation_windows`; value_median and value_percentile by running
counts and dyadic blocks: :mod:`.correlation_ranks`); the value_sum/value_avg windows holding a
value the exact integer sums cannot hold pair each window with its events (a join on the group keys bounded by time buckets of one `timespan`, then the exact
test ``sigma_time between (window_start .. window_end)``).

* `event_count`: distinct events in the window. `value_count`: distinct values of the field
  (case-insensitively; an absent or empty value is no value). `value_sum`/`value_avg`/
  `value_median`/`value_percentile`: over the numeric values of the field (others are ignored;
  a window without any is no alert); median and percentile interpolate linearly between ranks
  (a NaN has no rank and is not counted).
  `temporal`: distinct referenced rules in the window. `temporal_ordered`: every referenced rule,
  in the listed order, each event strictly later than the one before, within the window (the
  earliest such chain is the evidence).
* Group keys are read through the same field maps as the base rules, one value per event
  (:mod:`.correlation_fields`; a field without one is refused), lower-cased (Sigma compares
  case-insensitively); an event with an absent or empty group value is in no group. A group
  column named by a KQL keyword is written bracketed (``["time"]``).
* Chained correlations: the alerts of a referenced correlation are its events, at their window
  end, carrying their evidence; the referencing rule groups by (a subset of) their group keys.

The query is built from a :class:`CorrelationPlan`, kept in the conversion state, so that replay
can render it with its own reading of each base rule's query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sigma.correlations import (
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
)
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

from . import kql
from .correlation_fields import UnkeyableField, event_value
from .correlation_ranks import is_ranked, ranked_evidence, ranked_metrics, ranked_windows
from .correlation_sums import numeric_windows
from .correlation_thresholds import ConditionProblem, exact_condition
from .correlation_windows import (
    EVIDENCE,
    NUMERIC_KINDS,
    WINDOW_END,
    WINDOW_START,
    evidence_events,
    is_swept,
    ordered_evidence,
    ordered_windows,
    swept_windows,
    window_evidence,
    windowed,
)
from .pipelines.state import QUERY_TABLE, rule_label
from .sources import source_for_table

# Conversion-state keys: the full KQL of a base rule (its table and where clause) and the plan
# of a correlation rule.
BASE_QUERY = "azure_aks_base_query"
PLAN = "azure_aks_correlation_plan"

TIME_COLUMN = "TimeGenerated"
# The column holding the metric of each correlation type (the alert's number).
METRIC_COLUMNS = {
    "event_count": "event_count",
    "value_count": "value_count",
    "value_sum": "value_sum",
    "value_avg": "value_avg",
    "value_median": "value_median",
    "value_percentile": "value_percentile",
    "temporal": "rule_count",
    "temporal_ordered": "rule_count",
}
VALUE_KINDS = NUMERIC_KINDS | {"value_count"}
RESERVED = frozenset({WINDOW_START, WINDOW_END, EVIDENCE, *METRIC_COLUMNS.values()})
INTERNAL_PREFIX = "sigma_"  # the query's own working columns (sigma_time, sigma_event, ...)
SourceHook = Callable[[str], str]  # a base rule's KQL -> the KQL to read its events with


def _refuse(rule: Any, why: str) -> SigmaFeatureNotSupportedByBackendError:
    return SigmaFeatureNotSupportedByBackendError(f"correlation {rule_label(rule)}: {why}")


def column_name(sigma_field: str) -> str:
    """The output column of a group-by (or alias) field: its name, dots and other non-word
    characters as `_`."""
    name = re.sub(r"\W", "_", sigma_field, flags=re.ASCII)
    return name if re.match(r"[A-Za-z_]", name) else f"f_{name}"


@dataclass(frozen=True)
class BaseSource:
    """A referenced Sigma rule: its KQL, table, and the expressions of the fields the
    correlation reads (group keys by output column, and the value field)."""

    label: str  # the reference as written in the correlation (name or id)
    query: str
    table: str
    id_column: str  # what identifies an event: an alert lists its events by it
    groups: tuple[tuple[str, str], ...]  # (column, KQL expression)
    value: str | None


@dataclass(frozen=True)
class ChildSource:
    """A referenced correlation: its alerts are events; its group columns feed ours."""

    label: str
    plan: CorrelationPlan
    groups: tuple[tuple[str, str], ...]  # (our column, the child's column)


@dataclass(frozen=True)
class CorrelationPlan:
    rule: Any
    kind: str
    seconds: int
    groups: tuple[str, ...]  # output columns
    operator: str
    threshold: float
    percentile: float | None
    sources: tuple[BaseSource | ChildSource, ...] = field(default=())

    @property
    def metric(self) -> str:
        return METRIC_COLUMNS[self.kind]

    @property
    def chained(self) -> bool:
        return any(isinstance(s, ChildSource) for s in self.sources)

    @property
    def tables(self) -> tuple[str, ...]:
        found: list[str] = []
        for source in self.sources:
            for table in source.plan.tables if isinstance(source, ChildSource) else (source.table,):
                if table not in found:
                    found.append(table)
        return tuple(found)

    def render(self, source_hook: SourceHook | None = None, evidence: bool = False) -> str:
        """The whole query: `let` statements, then one row per alerting window (group keys, start,
        end, metric). With `evidence`, each window also lists its events (`event_ids`): pairing
        every alerting window with its events costs their product, for tests and small inputs."""
        lets, body = self.statements(source_hook, evidence)
        return "".join(f"{text};\n" for text in lets) + body

    def statements(self, source_hook: SourceHook | None = None, evidence: bool = False) -> tuple[list[str], str]:
        """(the `let` statements, without their `;`, the query's last statement): see render.
        The events the windows are read from are `let` `sigma_events`."""
        lets: list[str] = []
        body = _render_node(self, "", lets, source_hook or (lambda query: query), evidence)
        return lets, body


# ---- planning ------------------------------------------------------------------------------------
def plan_for(rule: SigmaCorrelationRule) -> CorrelationPlan:
    """The plan of a correlation rule whose referenced rules have been converted."""
    kind = rule.type.name.lower()
    if isinstance(rule.condition, SigmaExtendedCorrelationCondition):
        raise _refuse(
            rule,
            "extended temporal conditions (and/or/not of rules) are not supported by the sentinel "
            "target; write one temporal rule per conjunction",
        )
    if kind not in METRIC_COLUMNS:
        raise _refuse(rule, f"correlation type {kind} is not supported by the sentinel target")
    seconds = int(rule.timespan.seconds)
    groups = tuple(column_name(name) for name in rule.group_by or [])
    clash = (
        sorted(set(groups) & RESERVED)
        or sorted({g for g in groups if groups.count(g) > 1})
        or sorted({g for g in groups if g.startswith(INTERNAL_PREFIX)})
    )
    if clash:
        raise _refuse(
            rule, f"group-by field '{clash[0]}' collides with an output column; rename it with an alias"
        )
    condition = rule.condition
    try:
        exact = exact_condition(rule, kind)
    except ConditionProblem as problem:
        raise _refuse(rule, str(problem)) from None
    operator = exact.operator
    references = rule.referenced_rules
    if kind == "temporal":
        _refuse_repeated_rules(rule, references)
    if kind == "temporal_ordered" and not _requires_all(operator, exact.threshold, len(references)):
        raise _refuse(
            rule,
            f"temporal_ordered with condition {operator} {int(exact.threshold)} over {len(references)} rules: "
            "only 'every referenced rule, in order' (the default, gte: number of rules) is supported",
        )
    field_name = condition.fieldref
    if kind in VALUE_KINDS and not isinstance(field_name, str):
        raise _refuse(rule, f"{kind} needs one field in its condition (condition: field: <name>)")
    percentile = None
    if kind == "value_percentile":
        if exact.percentile is None or not 0 <= exact.percentile <= 100:
            raise _refuse(rule, "value_percentile needs a percentile between 0 and 100 in its condition")
        percentile = exact.percentile
    if kind == "value_median":
        percentile = 50.0
    sources = tuple(_source(rule, ref, kind, field_name) for ref in references)
    if not sources:
        raise _refuse(rule, "it references no rule")
    return CorrelationPlan(rule, kind, seconds, groups, operator, exact.threshold, percentile, sources)


def _refuse_repeated_rules(rule: SigmaCorrelationRule, references: Sequence[Any]) -> None:
    """A temporal correlation counts distinct rules: a rule listed twice (by one name, or by its
    name and its id) can never count twice, so the rule could never fire as written."""
    seen: dict[int, str] = {}
    for reference in references:
        label = str(reference.reference)
        first = seen.setdefault(id(reference.rule), label)
        if first != label or sum(str(r.reference) == label for r in references) > 1:
            twice = f"'{first}'" + (f" (also as '{label}')" if first != label else "")
            raise _refuse(
                rule,
                f"temporal lists the rule {twice} twice; a temporal correlation counts distinct rules, so "
                f"the repeated rule counts once and a window can never hold all {len(references)} listed rules. "
                "List each rule once (for repeated events of one rule, use event_count grouped by the same "
                "fields)",
            )


def _requires_all(operator: str, count: float, rules: int) -> bool:
    return (operator == ">=" and count == rules) or (operator == ">" and rules - 1 <= count < rules)


def _aliased(rule: SigmaCorrelationRule, reference: Any, name: str) -> str:
    """The field a referenced rule calls `name` (an alias of the correlation), else `name`."""
    for alias in rule.aliases:
        if alias.alias != name:
            continue
        for target, field_name in alias.mapping.items():
            if target.reference in {
                reference.reference,
                getattr(reference.rule, "name", None),
                str(reference.rule.id),
            }:
                return str(field_name)
    return name


def _source(
    rule: SigmaCorrelationRule, reference: Any, kind: str, value_field: Any
) -> BaseSource | ChildSource:
    target = reference.rule
    label = str(reference.reference)
    wanted = [(column_name(name), _aliased(rule, reference, name)) for name in rule.group_by or []]
    if isinstance(target, SigmaCorrelationRule):
        child = plan_for(target)
        if kind in VALUE_KINDS:
            raise _refuse(rule, f"{kind} over the correlation '{label}': value fields are read from events")
        child_columns = {column_name(name): column_name(name) for name in target.group_by or []}
        groups = []
        for column, name in wanted:
            if column_name(name) not in child_columns:
                raise _refuse(
                    rule,
                    f"group-by field '{name}' is not a group-by field of the referenced correlation '{label}' "
                    f"(its group keys: {', '.join(target.group_by or []) or 'none'})",
                )
            groups.append((column, column_name(name)))
        return ChildSource(label, child, tuple(groups))
    try:
        states = target.get_conversion_states()
    except Exception:  # pySigma: "Conversion state not available", the rule itself failed
        states = []
    if not states:
        raise _refuse(rule, f"the referenced rule '{label}' did not convert (see its own error)")
    state = states[0].processing_state
    table = state.get(QUERY_TABLE)
    query = state.get(BASE_QUERY)
    source = source_for_table(table)
    if source is None or source.id_column is None or source.field_map is None or not query:
        raise _refuse(
            rule,
            f"the referenced rule '{label}' is on table {table or 'none'}, which has no event id column "
            "to list an alert's events by; correlation rules are supported on tables that have one",
        )
    if len(target.get_conversion_result()) != 1:
        raise _refuse(rule, f"the referenced rule '{label}' converts to more than one query")

    def expression(name: str, role: str) -> str:
        try:
            return event_value(source, name)
        except UnkeyableField as why:
            raise _refuse(rule, f"{role} field '{name}' (in rule '{label}') {why}") from None

    groups = tuple((column, expression(name, "group-by")) for column, name in wanted)
    value = expression(_aliased(rule, reference, value_field), "condition") if kind in VALUE_KINDS else None
    return BaseSource(label, query, table, source.id_column, groups, value)


# ---- rendering -----------------------------------------------------------------------------------
def _base_events(plan: CorrelationPlan, source: BaseSource, hook: SourceHook, evidence: bool) -> str:
    columns = [
        f"sigma_time = {TIME_COLUMN}",
        f"sigma_event = tostring({source.id_column})",
        f"sigma_rule = {kql.string_literal(source.label)}",
        *(f"{kql.column_reference(column)} = tolower(tostring({expr}))" for column, expr in source.groups),
    ]
    if source.value is not None:
        reader = "toreal" if plan.kind in NUMERIC_KINDS else "tolower"
        columns.append(f"sigma_value = {reader}(tostring({source.value}))")
    if plan.chained and (evidence or not is_swept(plan)):
        columns.append(f"sigma_evidence = pack_array(tostring({source.id_column}))")
    return f"{hook(source.query).rstrip()}\n| project {', '.join(columns)}"


def _child_events(plan: CorrelationPlan, source: ChildSource, name: str, evidence: bool) -> str:
    child = source.plan
    identity = ", ".join(
        [
            kql.string_literal(f"{source.label}|"),
            f"tostring({WINDOW_END})",
            *(f'"|", {kql.column_reference(g)}' for g in child.groups),
        ]
    )
    columns = [
        f"sigma_time = {WINDOW_END}",
        f"sigma_event = strcat({identity})",
        f"sigma_rule = {kql.string_literal(source.label)}",
        *(f"{kql.column_reference(ours)} = {kql.column_reference(theirs)}" for ours, theirs in source.groups),
    ]
    if evidence or not is_swept(plan):
        columns.append(f"sigma_evidence = {EVIDENCE}")
    return f"{name}\n| project {', '.join(columns)}"


def _render_node(
    plan: CorrelationPlan, suffix: str, lets: list[str], hook: SourceHook, evidence: bool = False
) -> str:
    events = f"sigma_events{suffix}"
    parts = []
    for index, source in enumerate(plan.sources):
        if isinstance(source, ChildSource):
            child_name = f"sigma_alerts{suffix}_{index + 1}"
            child = _render_node(source.plan, f"{suffix}_{index + 1}", lets, hook, evidence)
            lets.append(f"let {child_name} = {child}")
            parts.append(_child_events(plan, source, child_name, evidence))
        else:
            parts.append(_base_events(plan, source, hook, evidence))
    combined = parts[0] if len(parts) == 1 else "union\n" + ",\n".join(f"({part})" for part in parts)
    keep = " and ".join(["isnotnull(sigma_time)", *(f"isnotempty({kql.column_reference(g)})" for g in plan.groups)])
    lets.append(f"let {events} = {combined}\n| where {keep}")
    if is_ranked(plan):
        alerting = ranked_windows(plan, events, suffix, lets)
        return ranked_evidence(plan, alerting, suffix) if evidence else ranked_metrics(plan, alerting, suffix, lets)
    if not is_swept(plan):
        return windowed(plan, events, suffix, lets)
    if plan.kind == "temporal_ordered":
        windows = ordered_windows(plan, events, suffix, lets)
    elif plan.kind in NUMERIC_KINDS:
        windows = numeric_windows(plan, events, suffix, lets)
    else:
        windows = swept_windows(plan, events, suffix, lets)
    if not evidence:
        return windows
    name = f"sigma_windows{suffix}"
    lets.append(f"let {name} = {windows}")
    if plan.kind == "temporal_ordered":
        return ordered_evidence(plan, events, name, suffix, lets)
    return window_evidence(plan, evidence_events(plan, suffix), name)


def correlation_query(rule: SigmaCorrelationRule, state: Any = None) -> str:
    """The KQL of a correlation rule; its plan is kept in `state` (a conversion state's
    processing_state) when given."""
    plan = plan_for(rule)
    if state is not None:
        state[PLAN] = plan
    return plan.render()


def plan_of(rule: Any) -> CorrelationPlan | None:
    """The plan a converted correlation rule keeps in its conversion state (None for other rules)."""
    states = rule.get_conversion_states() if isinstance(rule, SigmaCorrelationRule) else []
    return states[0].processing_state.get(PLAN) if states else None


def correlation_tables(rule: Any) -> tuple[str, ...]:
    plan = plan_of(rule)
    return plan.tables if plan is not None else ()


def referenced_first(rules: list[Any]) -> list[Any]:
    """The rules in their order, but each correlation after every rule it references."""
    ordered: list[Any] = []
    placed: set[int] = set()

    def place(rule: Any, path: tuple[int, ...]) -> None:
        if id(rule) in placed or id(rule) in path:
            return
        if isinstance(rule, SigmaCorrelationRule):
            for reference in rule.rules:
                target = getattr(reference, "rule", None)
                if target is not None:
                    place(target, (*path, id(rule)))
        placed.add(id(rule))
        ordered.append(rule)

    for rule in rules:
        place(rule, ())
    return ordered + [rule for rule in rules if id(rule) not in placed]
