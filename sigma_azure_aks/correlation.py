"""Sigma correlation rules -> KQL with sliding windows (the `sentinel` target).

Every event a referenced rule matches opens a window that ends at the event and reaches `timespan`
back, both ends included: ``[t - timespan, t]``, per group. A window whose events meet the
condition is one alert (its group keys, start, end, metric and the ids of the events in it). This
is what the Sigma specification asks for ("the time frame should not be restricted to
boundaries"): ten events spread across any boundary are counted together, never split by
``bin()``. The windows are found with a self-join of the events on the group keys, bounded by
time buckets of one `timespan` (an event of a window lies in the window's start or end bucket),
then the exact test ``sigma_time between (window_start .. window_end)``.

* `event_count`: distinct events in the window. `value_count`: distinct values of the field
  (case-insensitively; an absent or empty value is no value). `value_sum`/`value_avg`/
  `value_median`/`value_percentile`: over the numeric values of the field (others are ignored;
  a window without any is no alert); median and percentile interpolate linearly between ranks.
  `temporal`: distinct referenced rules in the window. `temporal_ordered`: every referenced rule,
  in the listed order, each event strictly later than the one before, within the window (the
  earliest such chain is the evidence).
* Group keys are read through the same field maps as the base rules, lower-cased (Sigma compares
  case-insensitively); an event with an absent or empty group value is in no group.
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
    SigmaCorrelationConditionOperator,
    SigmaCorrelationRule,
    SigmaExtendedCorrelationCondition,
)
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

from . import kql
from .pipelines.transformations import QUERY_TABLE, rule_label
from .sources import Feature, source_for_table

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
NUMERIC_KINDS = frozenset({"value_sum", "value_avg", "value_median", "value_percentile"})
VALUE_KINDS = NUMERIC_KINDS | {"value_count"}
OPERATORS = {
    SigmaCorrelationConditionOperator.LT: "<",
    SigmaCorrelationConditionOperator.LTE: "<=",
    SigmaCorrelationConditionOperator.GT: ">",
    SigmaCorrelationConditionOperator.GTE: ">=",
    SigmaCorrelationConditionOperator.EQ: "==",
    SigmaCorrelationConditionOperator.NEQ: "!=",
}
# Columns of every alert row besides the group keys and the metric.
WINDOW_START, WINDOW_END, EVIDENCE = "window_start", "window_end", "event_ids"
RESERVED = frozenset({WINDOW_START, WINDOW_END, EVIDENCE, *METRIC_COLUMNS.values()})
SourceHook = Callable[[str], str]  # a base rule's KQL -> the KQL to read its events with


def _refuse(rule: Any, why: str) -> SigmaFeatureNotSupportedByBackendError:
    return SigmaFeatureNotSupportedByBackendError(f"correlation {rule_label(rule)}: {why}")


def timespan_literal(seconds: int) -> str:
    """Seconds as a KQL timespan literal in the largest whole unit: 1d, 2h, 10m, 90s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


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
    clash = sorted(set(groups) & RESERVED) or sorted({g for g in groups if groups.count(g) > 1})
    if clash:
        raise _refuse(
            rule, f"group-by field '{clash[0]}' collides with an output column; rename it with an alias"
        )
    condition = rule.condition
    operator = OPERATORS[condition.op]
    references = rule.referenced_rules
    if kind == "temporal_ordered" and not _requires_all(operator, condition.count, len(references)):
        raise _refuse(
            rule,
            f"temporal_ordered with condition {operator} {condition.count} over {len(references)} rules: "
            "only 'every referenced rule, in order' (the default, gte: number of rules) is supported",
        )
    field_name = condition.fieldref
    if kind in VALUE_KINDS and not isinstance(field_name, str):
        raise _refuse(rule, f"{kind} needs one field in its condition (condition: field: <name>)")
    percentile = None
    if kind == "value_percentile":
        if condition.percentile is None or not 0 <= condition.percentile <= 100:
            raise _refuse(rule, "value_percentile needs a percentile between 0 and 100 in its condition")
        percentile = float(condition.percentile)
    if kind == "value_median":
        percentile = 50.0
    sources = tuple(_source(rule, ref, kind, field_name) for ref in references)
    if not sources:
        raise _refuse(rule, "it references no rule")
    return CorrelationPlan(rule, kind, seconds, groups, operator, float(condition.count), percentile, sources)


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
    fields = source.field_map
    array_field = _array_test(source)

    def expression(name: str, role: str) -> str:
        resolved = fields.resolve(name)
        if resolved is None:
            raise _refuse(
                rule,
                f"{role} field '{name}' (in rule '{label}') has no {table} column. "
                f"Supported fields: {', '.join(fields.supported_fields())}",
            )
        if array_field(name):
            raise _refuse(rule, f"{role} field '{name}' holds a list in {table}; it cannot be a key")
        return resolved.kql()

    groups = tuple((column, expression(name, "group-by")) for column, name in wanted)
    value = expression(_aliased(rule, reference, value_field), "condition") if kind in VALUE_KINDS else None
    return BaseSource(label, query, table, source.id_column, groups, value)


def _array_test(source: Any) -> Callable[[str], bool]:
    """Whether a field holds a list on this source (Kubernetes audit values can)."""
    if Feature.AUDIT_VALUES not in source.features:
        return lambda name: False
    from .sources.aks_audit import is_array_field

    return is_array_field


# ---- rendering -----------------------------------------------------------------------------------
def _keys(plan: CorrelationPlan) -> str:
    return "".join(f"{group}, " for group in plan.groups)


def _base_events(plan: CorrelationPlan, source: BaseSource, hook: SourceHook, evidence: bool) -> str:
    columns = [
        f"sigma_time = {TIME_COLUMN}",
        f"sigma_event = tostring({source.id_column})",
        f"sigma_rule = {kql.string_literal(source.label)}",
        *(f"{column} = tolower(tostring({expr}))" for column, expr in source.groups),
    ]
    if source.value is not None:
        reader = "toreal" if plan.kind in NUMERIC_KINDS else "tolower"
        columns.append(f"sigma_value = {reader}(tostring({source.value}))")
    if plan.chained and (evidence or plan.kind not in SWEPT_KINDS):
        columns.append(f"sigma_evidence = pack_array(tostring({source.id_column}))")
    return f"{hook(source.query).rstrip()}\n| project {', '.join(columns)}"


def _child_events(plan: CorrelationPlan, source: ChildSource, name: str, evidence: bool) -> str:
    child = source.plan
    identity = ", ".join(
        [
            kql.string_literal(f"{source.label}|"),
            f"tostring({WINDOW_END})",
            *(f'"|", {g}' for g in child.groups),
        ]
    )
    columns = [
        f"sigma_time = {WINDOW_END}",
        f"sigma_event = strcat({identity})",
        f"sigma_rule = {kql.string_literal(source.label)}",
        *(f"{ours} = {theirs}" for ours, theirs in source.groups),
    ]
    if evidence or plan.kind not in SWEPT_KINDS:
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
    keep = " and ".join(["isnotnull(sigma_time)", *(f"isnotempty({g})" for g in plan.groups)])
    lets.append(f"let {events} = {combined}\n| where {keep}")
    if plan.kind not in SWEPT_KINDS:
        return _windowed(plan, events)
    windows = _ordered_windows(plan, events, suffix, lets) if plan.kind == "temporal_ordered" else (
        _swept_windows(plan, events, suffix, lets)
    )
    if not evidence:
        return windows
    name = f"sigma_windows{suffix}"
    lets.append(f"let {name} = {windows}")
    if plan.kind == "temporal_ordered":
        return _ordered_evidence(plan, events, name, suffix, lets)
    return _window_evidence(plan, events, name)


# ---- sweeps: windows without pairing events --------------------------------------------------------
# A sweep is a `sort by` the group keys and time, then a running sum (`row_cumsum`) of a `sigma_delta`
# column over the whole sorted stream. Every group's deltas sum to zero (or only rows of the same group
# are compared), so a running sum over all groups is each group's own: no `restart`, no `prev()`.
# At one time, rows are ordered by `sigma_kind`: entries (0) before the windows ending then (1) before
# exits (2), so a window [t - timespan, t] holds the events at its both ends.
SWEPT_KINDS = frozenset({"event_count", "value_count", "temporal", "temporal_ordered"})


def _sorted_by(plan: CorrelationPlan, *columns: str) -> str:
    return ", ".join(f"{column} asc" for column in (*plan.groups, *columns))


def _sweep(plan: CorrelationPlan, branches: Sequence[str], running: str, *order: str) -> str:
    """The union of `branches` (each with the group keys, sigma_time, sigma_kind, sigma_delta),
    sorted, with the running sum of sigma_delta as `running`."""
    combined = "union\n" + ",\n".join(f"({branch})" for branch in branches)
    return (
        f"{combined}\n| sort by {_sorted_by(plan, *order, 'sigma_time', 'sigma_kind')}\n"
        f"| extend {running} = row_cumsum(sigma_delta)"
    )


def _swept_windows(plan: CorrelationPlan, events: str, suffix: str, lets: list[str]) -> str:
    """event_count, value_count, temporal: the metric of the window ending at each event's time,
    as a running sum of entries and exits, one row per alerting window."""
    span = timespan_literal(plan.seconds)
    keys = _keys(plan)
    if plan.kind == "event_count":
        # each (group, time) enters with its number of distinct events and leaves after `timespan`
        counted = f"sigma_counts{suffix}"
        lets.append(
            f"let {counted} = {events}\n| distinct {keys}sigma_time, sigma_event\n"
            f"| summarize sigma_delta = count() by {keys}sigma_time"
        )
        changes = [
            f"{counted} | project {keys}sigma_time, sigma_kind = 0, sigma_delta",
            f"{counted} | project {keys}sigma_time = sigma_time + {span}, sigma_kind = 2, sigma_delta = -sigma_delta",
        ]
    else:
        # each (group, value) is present from its first time to `timespan` after its last one, over
        # the runs of times less than `timespan` apart: one interval per run, found by a running
        # count of the values' own entries and exits (an interval opens where it becomes 1, closes
        # where it comes back to 0)
        item = "sigma_rule" if plan.kind == "temporal" else "sigma_value"
        values, cover = f"sigma_values{suffix}", f"sigma_cover{suffix}"
        lets.append(
            f"let {values} = {events}\n| where isnotempty({item})\n"
            f"| project {keys}sigma_item = {item}, sigma_time\n| distinct {keys}sigma_item, sigma_time"
        )
        lets.append(
            f"let {cover} = "
            + _sweep(
                plan,
                [
                    f"{values} | project {keys}sigma_item, sigma_time, sigma_kind = 0, sigma_delta = long(1)",
                    f"{values} | project {keys}sigma_item, sigma_time = sigma_time + {span}, sigma_kind = 2, "
                    "sigma_delta = long(-1)",
                ],
                "sigma_present",
                "sigma_item",
            )
        )
        changes = [
            f"{cover}\n    | where (sigma_kind == 0 and sigma_present == 1) or (sigma_kind == 2 and sigma_present == 0)"
            f"\n    | project {keys}sigma_time, sigma_kind, sigma_delta"
        ]
    swept = f"sigma_swept{suffix}"
    ends = f"{events} | distinct {keys}sigma_time | project {keys}sigma_time, sigma_kind = 1, sigma_delta = long(0)"
    lets.append(f"let {swept} = " + _sweep(plan, [*changes, ends], "sigma_total"))
    metric = plan.metric
    return "\n".join(
        [
            swept,
            "| where sigma_kind == 1",
            f"| project {keys}{WINDOW_START} = sigma_time - {span}, {WINDOW_END} = sigma_time, {metric} = sigma_total",
            f"| where {metric} {plan.operator} {_number(plan.threshold)}",
        ]
    )


def _ordered_windows(plan: CorrelationPlan, events: str, suffix: str, lets: list[str]) -> str:
    """temporal_ordered: for each rule in turn, the latest start a chain of the rules so far can
    have when it ends at each event of this rule (the latest chain start of the previous rule
    strictly before it: that start only grows with time); a window ending at t alerts when the
    last rule's latest chain ending by t started at t - timespan or later."""
    span = timespan_literal(plan.seconds)
    keys = _keys(plan)
    on = f"{keys}sigma_seen"

    def times(label: str) -> str:
        return f"{events} | where sigma_rule == {kql.string_literal(label)} | distinct {keys}sigma_time"

    def latest_before(chains: str, later: str, name: str, later_kind: int) -> None:
        """`name`: the rows of `later` (group keys, sigma_time), each with the chain start of the
        latest row of `chains` before it (strictly before when later_kind is 0, else at or before)."""
        chain_kind = 1 - later_kind
        stream = f"{name}_sweep"
        lets.append(
            f"let {stream} = "
            + _sweep(
                plan,
                [
                    f"{chains} | project {keys}sigma_time, sigma_start, sigma_kind = {chain_kind}, sigma_delta = long(1)",
                    f"{later} | project {keys}sigma_time, sigma_start = datetime(null), sigma_kind = {later_kind}, "
                    "sigma_delta = long(0)",
                ],
                "sigma_seen",
            )
        )
        lets.append(
            f"let {name} = {stream}\n| where sigma_kind == {later_kind} and sigma_seen > 0\n"
            f"| join kind=inner ({stream} | where sigma_kind == {chain_kind} | project {keys}sigma_seen, "
            f"sigma_from = sigma_start) on {on}\n"
            f"| project {keys}sigma_time, sigma_start = sigma_from"
        )

    chains = f"sigma_chain{suffix}_1"
    lets.append(f"let {chains} = {times(plan.sources[0].label)} | extend sigma_start = sigma_time")
    for index, source in enumerate(plan.sources[1:], start=2):
        step = f"sigma_chain{suffix}_{index}"
        latest_before(chains, times(source.label), step, 0)
        chains = step
    final = f"sigma_chained{suffix}"
    latest_before(chains, f"{events} | distinct {keys}sigma_time", final, 1)
    return "\n".join(
        [
            final,
            f"| where sigma_start >= sigma_time - {span}",
            f"| project {keys}{WINDOW_START} = sigma_time - {span}, {WINDOW_END} = sigma_time, "
            f"{plan.metric} = {len(plan.sources)}",
        ]
    )


# ---- evidence: the events of each alerting window (pairs each window with its events) ---------------
def _evidence_join(plan: CorrelationPlan, windows: str, right: str) -> list[str]:
    """Lines pairing every alerting window with the events inside it."""
    span = timespan_literal(plan.seconds)
    keys = _keys(plan)
    return [
        windows,
        f"| extend sigma_bin = pack_array(bin({WINDOW_START}, {span}), bin({WINDOW_END}, {span}))",
        "| mv-expand sigma_bin to typeof(datetime)",
        f"| join kind=inner ({right}\n    | extend sigma_bin = bin(sigma_time, {span})) on {keys}sigma_bin",
        f"| where sigma_time between ({WINDOW_START} .. {WINDOW_END})",
    ]


def _window_evidence(plan: CorrelationPlan, events: str, windows: str) -> str:
    by = f"{_keys(plan)}{WINDOW_START}, {WINDOW_END}, {plan.metric}"
    lines = _evidence_join(plan, windows, events)
    if plan.chained:
        lines.append("| mv-expand sigma_evidence to typeof(string)")
        lines.append(f"| summarize {EVIDENCE} = make_set(sigma_evidence) by {by}")
    else:
        lines.append(f"| summarize {EVIDENCE} = make_set(sigma_event) by {by}")
    lines.append(f"| project {by}, {EVIDENCE}")
    return "\n".join(lines)


def _window_join(plan: CorrelationPlan, events: str, right: str) -> list[str]:
    """Lines pairing every window (one per group and event time) with the events inside it."""
    span = timespan_literal(plan.seconds)
    windows = "\n".join(
        [
            f"{events}",
            f"| summarize by {_keys(plan)}{WINDOW_END} = sigma_time",
            f"| extend {WINDOW_START} = {WINDOW_END} - {span}",
        ]
    )
    return _evidence_join(plan, windows, right)


def _windowed(plan: CorrelationPlan, events: str) -> str:
    keys = _keys(plan)
    by = f"{keys}{WINDOW_START}, {WINDOW_END}"
    right = events
    if plan.kind in NUMERIC_KINDS:
        right = f"{events}\n    | where isnotnull(sigma_value)\n    | distinct sigma_time, sigma_event, {keys}sigma_value"
    lines = _window_join(plan, events, right)
    metric = plan.metric
    if plan.chained:
        lines.append("| mv-expand sigma_evidence to typeof(string)")
        evidence = f"{EVIDENCE} = make_set(sigma_evidence)"
    else:
        evidence = f"{EVIDENCE} = make_set(sigma_event)"
    if plan.kind == "event_count":
        if plan.chained:
            lines.append(f"| summarize {evidence}, sigma_ids = make_set(sigma_event) by {by}")
            lines.append(f"| extend {metric} = array_length(sigma_ids)")
        else:
            lines.append(f"| summarize {evidence} by {by}")
            lines.append(f"| extend {metric} = array_length({EVIDENCE})")
    elif plan.kind == "temporal":
        lines.append(f"| summarize {evidence}, sigma_rules = make_set(sigma_rule) by {by}")
        lines.append(f"| extend {metric} = array_length(sigma_rules)")
    elif plan.kind == "value_count":
        lines.append(f"| summarize {evidence}, sigma_values = make_set(sigma_value) by {by}")
        lines.append(
            f'| extend {metric} = array_length(sigma_values) - iff(set_has_element(sigma_values, ""), 1, 0)'
        )
    elif plan.kind in ("value_sum", "value_avg"):
        function = "sum" if plan.kind == "value_sum" else "avg"
        lines.append(f"| summarize {evidence}, {metric} = {function}(sigma_value) by {by}")
    else:
        lines.append(f"| summarize {evidence}, sigma_values = make_list(sigma_value) by {by}")
        lines.extend(_interpolated(metric, plan.percentile or 0.0))
    lines.append(f"| where {metric} {plan.operator} {_number(plan.threshold)}")
    lines.append(f"| project {by}, {metric}, {EVIDENCE}")
    return "\n".join(lines)


def _interpolated(metric: str, percentile: float) -> list[str]:
    """The percentile of the window's values, linear between the two nearest ranks."""
    return [
        "| extend sigma_values = array_sort_asc(sigma_values)",
        f"| extend sigma_rank = (array_length(sigma_values) - 1) * {percentile / 100!r}",
        "| extend sigma_low = toint(floor(sigma_rank, 1))",
        f"| extend {metric} = toreal(sigma_values[sigma_low]) * (1 - (sigma_rank - sigma_low))"
        " + iff(sigma_low + 1 < array_length(sigma_values),"
        " toreal(sigma_values[sigma_low + 1]) * (sigma_rank - sigma_low), 0.0)",
    ]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _ordered_evidence(plan: CorrelationPlan, events: str, windows: str, suffix: str, lets: list[str]) -> str:
    """temporal_ordered evidence: per alerting window, the earliest time of the first rule, then of
    each next rule strictly after the one before; the events at those times."""
    keys = _keys(plan)
    by = f"{keys}{WINDOW_START}, {WINDOW_END}"
    matches = f"sigma_matches{suffix}"
    carried = ", sigma_evidence" if plan.chained else ""
    lines = _evidence_join(plan, windows, events)
    lines.append(f"| project {by}, sigma_time, sigma_event, sigma_rule{carried}")
    lets.append(f"let {matches} = " + "\n".join(lines))
    steps: list[str] = []
    body: list[str] = []
    for index, source in enumerate(plan.sources):
        step = f"sigma_step{index + 1}"
        picked = f"{matches} | where sigma_rule == {kql.string_literal(source.label)}"
        if index == 0:
            body.append(picked)
        else:
            body.append(f"| join kind=inner ({picked}) on {by}")
            body.append(f"| where sigma_time > {steps[-1]}")
        body.append(f"| summarize {step} = min(sigma_time) by {by}{''.join(f', {s}' for s in steps)}")
        steps.append(step)
    chosen = " or ".join(
        f"(sigma_rule == {kql.string_literal(source.label)} and sigma_time == {step})"
        for source, step in zip(plan.sources, steps, strict=True)
    )
    body.append(f"| join kind=inner ({matches}) on {by}")
    body.append(f"| where {chosen}")
    if plan.chained:
        body.append("| mv-expand sigma_evidence to typeof(string)")
        body.append(f"| summarize {EVIDENCE} = make_set(sigma_evidence) by {by}")
    else:
        body.append(f"| summarize {EVIDENCE} = make_set(sigma_event) by {by}")
    body.append(f"| extend {plan.metric} = {len(plan.sources)}")
    body.append(f"| project {by}, {plan.metric}, {EVIDENCE}")
    return "\n".join(body)


def correlation_query(rule: SigmaCorrelationRule, state: Any = None) -> str:
    """The KQL of a correlation rule; its plan is kept in `state` (a conversion state's
    processing_state) when given."""
    plan = plan_for(rule)
    if state is not None:
        state[PLAN] = plan
    return plan.render()


def referenced_labels(plan: CorrelationPlan) -> Sequence[str]:
    return [source.label for source in plan.sources]


def finalize_correlation_query(backend: Any, rule: Any, query: str, state: Any, output_format: str) -> Any:
    """The KQL as it is (`default`), or a scheduled analytics rule around it."""
    if output_format == "default":
        return query
    from .analytics.correlation import render_correlation_rule

    try:
        return render_correlation_rule(state.processing_state[PLAN], output_format, backend.backend_options)
    except ValueError as error:
        raise SigmaFeatureNotSupportedByBackendError(f"{rule_label(rule)}: {error}") from error


def plan_of(rule: Any) -> CorrelationPlan | None:
    """The plan a converted correlation rule keeps in its conversion state (None for other rules)."""
    states = rule.get_conversion_states() if isinstance(rule, SigmaCorrelationRule) else []
    return states[0].processing_state.get(PLAN) if states else None


def correlation_tables(rule: Any) -> tuple[str, ...]:
    plan = plan_of(rule)
    return plan.tables if plan is not None else ()
