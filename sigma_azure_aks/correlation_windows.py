"""The windows of a correlation query: a sweep (a sort and a running sum) that gives the metric of
the window ending at each event without pairing events, for event_count, value_count, temporal,
temporal_ordered, value_sum and value_avg (in exact integers: :mod:`.correlation_sums`); the pieces
:mod:`.correlation_ranks` builds value_median and value_percentile from; and the evidence form that
lists each alerting window's events. Written for any plan that has the
attributes of :class:`WindowPlan` (:class:`sigma_azure_aks.correlation.CorrelationPlan`)."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Protocol

from . import kql

# Columns of every alert row besides the group keys and the metric.
WINDOW_START, WINDOW_END, EVIDENCE = "window_start", "window_end", "event_ids"
# Correlation kinds whose metric is a number computed from the values in each window.
NUMERIC_KINDS = frozenset({"value_sum", "value_avg", "value_median", "value_percentile"})
# Numeric kinds whose metric is a rank of the window's values (swept in :mod:`.correlation_ranks`).
RANKED_KINDS = frozenset({"value_median", "value_percentile"})


class WindowPlan(Protocol):
    """What the window rendering reads of a correlation plan."""

    kind: str
    groups: tuple[str, ...]
    seconds: int
    metric: str
    operator: str
    threshold: float
    percentile: float | None
    sources: Sequence[Any]
    chained: bool


def timespan_literal(seconds: int) -> str:
    """Seconds as a KQL timespan literal in the largest whole unit: 1d, 2h, 10m, 90s."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def group_keys(plan: WindowPlan) -> str:
    return "".join(f"{kql.column_reference(group)}, " for group in plan.groups)


# ---- sweeps: windows without pairing events --------------------------------------------------------
# A sweep is a `sort by` the group keys and time, then a running sum (`row_cumsum`) of a `sigma_delta`
# column over the whole sorted stream. Every group's deltas sum to zero (or only rows of the same group
# are compared), so a running sum over all groups is each group's own: no `restart`, no `prev()`.
# At one time, rows are ordered by `sigma_kind`: entries (0) before the windows ending then (1) before
# exits (2), so a window [t - timespan, t] holds the events at its both ends.
SWEPT_KINDS = frozenset({"event_count", "value_count", "temporal", "temporal_ordered"})


def is_swept(plan: WindowPlan) -> bool:
    """Whether the plan's windows come from a sweep (they carry no event ids; the evidence form
    and the analytics rule join the events back): every kind but value_avg with a threshold off
    the exact grid (:mod:`.correlation_sums`)."""
    if plan.kind == "value_sum" or plan.kind in RANKED_KINDS:
        return True
    if plan.kind == "value_avg":
        return on_grid(plan.threshold)
    return plan.kind in SWEPT_KINDS


def evidence_events(plan: WindowPlan, suffix: str = "") -> str:
    """The `let` whose rows are the events a window of the plan counts: the events with a numeric
    value (each once) for the numeric kinds, else every event."""
    return f"sigma_numbers{suffix}" if plan.kind in NUMERIC_KINDS else f"sigma_events{suffix}"


def sorted_by(plan: WindowPlan, *columns: str) -> str:
    return ", ".join(f"{column} asc" for column in (*map(kql.column_reference, plan.groups), *columns))


def _sorted_union(plan: WindowPlan, branches: Sequence[str], *order: str) -> str:
    combined = "union\n" + ",\n".join(f"({branch})" for branch in branches)
    return f"{combined}\n| sort by {sorted_by(plan, *order, 'sigma_time', 'sigma_kind')}"


def sweep(plan: WindowPlan, branches: Sequence[str], running: str, *order: str) -> str:
    """The union of `branches` (each with the group keys, sigma_time, sigma_kind, sigma_delta),
    sorted, with the running sum of sigma_delta as `running`."""
    return f"{_sorted_union(plan, branches, *order)}\n| extend {running} = row_cumsum(sigma_delta)"


def sweep_sums(plan: WindowPlan, branches: Sequence[str], columns: Sequence[str]) -> str:
    """The union of `branches` (each with the group keys, sigma_time, sigma_kind and `columns`),
    sorted as :func:`sweep` sorts, with the running sum of each column as `<column>_in`."""
    totals = ", ".join(f"{name}_in = row_cumsum({name})" for name in columns)
    return f"{_sorted_union(plan, branches)}\n| extend {totals}"


def swept_windows(plan: WindowPlan, events: str, suffix: str, lets: list[str]) -> str:
    """event_count, value_count, temporal: the metric of the window ending at each event's time,
    as a running sum of entries and exits, one row per alerting window."""
    span = timespan_literal(plan.seconds)
    keys = group_keys(plan)
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
            + sweep(
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
    lets.append(f"let {swept} = " + sweep(plan, [*changes, ends], "sigma_total"))
    metric = plan.metric
    return "\n".join(
        [
            swept,
            "| where sigma_kind == 1",
            f"| project {keys}{WINDOW_START} = sigma_time - {span}, {WINDOW_END} = sigma_time, {metric} = sigma_total",
            f"| where {metric} {plan.operator} {number_literal(plan.threshold)}",
        ]
    )


# ---- value_sum and value_avg in exact integers (the windows: :mod:`.correlation_sums`) ------------
# A value v is exact when |v| < 2^36 and it is a multiple of 2^-80: every double of magnitude 2^-28
# or more below 2^36 (0.1, 2.5, 1e-6, 123456.789 ...) and zero. It is held as five integers: whole =
# floor(v) and four fraction limbs of 20 bits, so that a window's sum is held without rounding.
LIMB_BITS = 20
LIMBS = 4  # fraction limbs: the grid is 2^-80
LIMB = 1 << LIMB_BITS
GRID = 1 << (LIMB_BITS * LIMBS)
EXACT_BELOW = 1 << 36  # |value|
EXACT_COUNT_BELOW = 1 << 25  # numbers in one window: |sum of wholes| < 2^61, each limb sum < 2^45


def on_grid(threshold: float) -> bool:
    """An avg threshold the integer comparison takes: a multiple of 2^-80 (any beyond 2^36 is
    beyond every average, and taken as 2^36)."""
    exact = Fraction(threshold)
    return abs(exact) >= EXACT_BELOW or (exact * GRID).denominator == 1


def ordered_windows(plan: WindowPlan, events: str, suffix: str, lets: list[str]) -> str:
    """temporal_ordered: for each rule in turn, the latest start a chain of the rules so far can
    have when it ends at each event of this rule (the latest chain start of the previous rule
    strictly before it: that start only grows with time); a window ending at t alerts when the
    last rule's latest chain ending by t started at t - timespan or later."""
    span = timespan_literal(plan.seconds)
    keys = group_keys(plan)
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
            + sweep(
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
def evidence_join(plan: WindowPlan, windows: str, right: str) -> list[str]:
    """Lines pairing every alerting window with the events inside it."""
    span = timespan_literal(plan.seconds)
    keys = group_keys(plan)
    return [
        windows,
        f"| extend sigma_bin = pack_array(bin({WINDOW_START}, {span}), bin({WINDOW_END}, {span}))",
        "| mv-expand sigma_bin to typeof(datetime)",
        f"| join kind=inner ({right}\n    | extend sigma_bin = bin(sigma_time, {span})) on {keys}sigma_bin",
        f"| where sigma_time between ({WINDOW_START} .. {WINDOW_END})",
    ]


def window_evidence(plan: WindowPlan, events: str, windows: str) -> str:
    by = f"{group_keys(plan)}{WINDOW_START}, {WINDOW_END}, {plan.metric}"
    lines = evidence_join(plan, windows, events)
    if plan.chained:
        lines.append("| mv-expand sigma_evidence to typeof(string)")
        lines.append(f"| summarize {EVIDENCE} = make_set(sigma_evidence) by {by}")
    else:
        lines.append(f"| summarize {EVIDENCE} = make_set(sigma_event) by {by}")
    lines.append(f"| project {by}, {EVIDENCE}")
    return "\n".join(lines)


def _window_join(plan: WindowPlan, events: str, right: str) -> list[str]:
    """Lines pairing every window (one per group and event time) with the events inside it."""
    span = timespan_literal(plan.seconds)
    windows = "\n".join(
        [
            f"{events}",
            f"| summarize by {group_keys(plan)}{WINDOW_END} = sigma_time",
            f"| extend {WINDOW_START} = {WINDOW_END} - {span}",
        ]
    )
    return evidence_join(plan, windows, right)


def numeric_events(plan: WindowPlan, events: str, suffix: str, lets: list[str]) -> str:
    """The `let` of the events with a numeric value, each once: what the numeric kinds count."""
    name = evidence_events(plan, suffix)
    ranked = plan.kind in RANKED_KINDS  # a NaN has no rank
    lets.append(
        f"let {name} = {events}\n| where isnotnull(sigma_value){' and not(isnan(sigma_value))' if ranked else ''}\n"
        f"| distinct {group_keys(plan)}sigma_time, "
        "sigma_event, sigma_value"
    )
    return name


def windowed(plan: WindowPlan, events: str, suffix: str, lets: list[str]) -> str:
    """Every window (one per group and event time) paired with its events: the numeric kinds that
    are not swept."""
    keys = group_keys(plan)
    by = f"{keys}{WINDOW_START}, {WINDOW_END}"
    right = numeric_events(plan, events, suffix, lets) if plan.kind in NUMERIC_KINDS else events
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
        lines.extend(interpolated(metric, plan.percentile or 0.0))
    lines.append(f"| where {metric} {plan.operator} {number_literal(plan.threshold)}")
    lines.append(f"| project {by}, {metric}, {EVIDENCE}")
    return "\n".join(lines)


def interpolated(metric: str, percentile: float) -> list[str]:
    """The percentile of the window's values, linear between the two nearest ranks: the rank
    (n - 1) * p / 100 is held as the integer (n - 1) * p (pySigma reads a percentile as a whole
    number), so its whole part and its fraction are exact."""
    return [
        "| extend sigma_values = array_sort_asc(sigma_values)",
        f"| extend sigma_rank = (array_length(sigma_values) - 1) * {int(percentile)}",
        "| extend sigma_low = toint(sigma_rank / 100)",
        f"| extend {metric} = toreal(sigma_values[sigma_low]) * (1 - (sigma_rank % 100) / 100.0)"
        " + iff(sigma_low + 1 < array_length(sigma_values),"
        " toreal(sigma_values[sigma_low + 1]) * ((sigma_rank % 100) / 100.0), 0.0)",
    ]


def number_literal(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def ordered_evidence(plan: WindowPlan, events: str, windows: str, suffix: str, lets: list[str]) -> str:
    """temporal_ordered evidence: per alerting window, the earliest time of the first rule, then of
    each next rule strictly after the one before; the events at those times."""
    keys = group_keys(plan)
    by = f"{keys}{WINDOW_START}, {WINDOW_END}"
    matches = f"sigma_matches{suffix}"
    carried = ", sigma_evidence" if plan.chained else ""
    lines = evidence_join(plan, windows, events)
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


