"""value_median and value_percentile without pairing events: the windows' alerts are decided by
running counts, and the few windows counts cannot decide read two range extremes from dyadic blocks;
the cost grows as n log n per group, not with the square of a burst.

The metric of a window is linear between the ranks ``lo = floor((n - 1) * p / 100)`` and ``lo + 1``
of its n sorted values, with weight ``f = ((n - 1) * p mod 100) / 100`` (p a whole percentile: exact
in integers). Against the threshold T, with ``m`` values below T and ``e`` equal to it in the window:

* f = 0: the metric is the value of rank lo: below T when lo < m, T when lo < m + e, else above.
* f > 0: both ranks below T (lo + 1 < m), both at T, both above (lo >= m + e), rank lo below and
  lo + 1 at T (below), rank lo at T and lo + 1 above (above) are decided by the counts alone.
* Only when rank lo is the greatest value below T and rank lo + 1 the least above it (lo + 1 == m,
  e == 0) the metric needs those two values: the window's maximum of its values below T and minimum
  of those above T. They are read from dyadic blocks (the maximum and minimum of each aligned run of
  2^L rows, for each level L up to the widest such window of the group): a window's rows are covered
  by the first and last whole block of each level inside them, two per level, found by equality
  joins.

A value that orders with nothing (NaN, from the text "NaN") has no rank: it is not a number the
window counts.

The metric itself is listed for the first window of each run of overlapping alerting windows of a
group (paired with its events: those first windows do not overlap, so this is linear), and is empty
on the run's later windows; the analytics rule computes it for the window it reports, and the
evidence form (every window with its events) for every window."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .correlation_windows import (
    EVIDENCE,
    RANKED_KINDS,
    WINDOW_END,
    WINDOW_START,
    evidence_join,
    group_keys,
    interpolated,
    number_literal,
    numeric_events,
    sweep,
    sweep_sums,
    timespan_literal,
)

# levels of the dyadic blocks: 2^40 rows in one window is beyond any table a query reads
LEVELS = 40
_COUNTS = ("sigma_count", "sigma_below", "sigma_at", "sigma_rows", "sigma_place")


def is_ranked(plan: Any) -> bool:
    """Whether the plan's windows are found by :func:`ranked_windows`."""
    return plan.kind in RANKED_KINDS


def ranked_windows(plan: Any, events: str, suffix: str, lets: list[str]) -> str:
    """The alerting windows of a value_median/value_percentile plan (group keys, window_start,
    window_end), without their metric: the name of the `let` holding them."""
    span = timespan_literal(plan.seconds)
    keys = group_keys(plan)
    threshold = number_literal(plan.threshold)
    numbered = numeric_events(plan, events, suffix, lets)
    parts, swept = f"sigma_ranks{suffix}", f"sigma_rank_sweep{suffix}"
    lets.append(
        f"let {parts} = {numbered}\n"
        f"| summarize sigma_count = count(), sigma_below = countif(sigma_value < {threshold}), "
        f"sigma_at = countif(sigma_value == {threshold}), "
        f"sigma_low_max = max(iff(sigma_value < {threshold}, sigma_value, real(null))), "
        f"sigma_high_min = min(iff(sigma_value > {threshold}, sigma_value, real(null))) by {keys}sigma_time"
    )
    counts = ", ".join(_COUNTS[:3])
    leaving = ", ".join(f"{name} = -{name}" for name in _COUNTS[:3])
    nothing = ", ".join(f"{name} = long(0)" for name in _COUNTS)
    branches = [
        f"{parts} | project {keys}sigma_time, sigma_kind = 0, {counts}, sigma_rows = long(1), "
        "sigma_place = long(1), sigma_low_max, sigma_high_min",
        f"{parts} | project {keys}sigma_time = sigma_time + {span}, sigma_kind = 2, {leaving}, "
        "sigma_rows = long(-1), sigma_place = long(0), sigma_low_max = real(null), sigma_high_min = real(null)",
        f"{events} | distinct {keys}sigma_time | project {keys}sigma_time, sigma_kind = 1, {nothing}, "
        "sigma_low_max = real(null), sigma_high_min = real(null)",
    ]
    lets.append(f"let {swept} = {sweep_sums(plan, branches, _COUNTS)}")
    decided = f"sigma_decided{suffix}"
    percentile = int(plan.percentile or 0)
    lets.append(
        "\n".join(
            [
                f"let {decided} = {swept}",
                "| where sigma_kind == 1 and sigma_count_in > 0",
                f"| project {keys}{WINDOW_START} = sigma_time - {span}, {WINDOW_END} = sigma_time, "
                "sigma_n = sigma_count_in, sigma_m = sigma_below_in, sigma_k = sigma_below_in + sigma_at_in, "
                "sigma_rows = sigma_rows_in, sigma_last = sigma_place_in",
                f"| extend sigma_lo = (sigma_n - 1) * {percentile} / 100, sigma_part = (sigma_n - 1) * {percentile} % 100",
                "| extend sigma_sign = case("
                "sigma_part == 0 and sigma_lo < sigma_m, -1, sigma_part == 0 and sigma_lo < sigma_k, 0, "
                "sigma_part == 0, 1, sigma_lo + 1 < sigma_m, -1, sigma_lo >= sigma_k, 1, "
                "sigma_lo >= sigma_m and sigma_lo + 1 < sigma_k, 0, sigma_lo + 1 == sigma_m and sigma_m < sigma_k, -1, "
                "sigma_lo >= sigma_m, 1, int(null))",
            ]
        )
    )
    return _alerting(plan, decided, suffix, lets)


def _alerting(plan: Any, decided: str, suffix: str, lets: list[str]) -> str:
    keys = group_keys(plan)
    by = f"{keys}{WINDOW_START}, {WINDOW_END}"
    levels = f"range(0, {LEVELS})"
    one = "" if plan.groups else "| extend sigma_one = 1 "
    on = keys.rstrip(", ") if plan.groups else "sigma_one"
    # the windows counts cannot decide: their maximum below T and minimum above T, from the blocks
    undecided, blocks = f"sigma_undecided{suffix}", f"sigma_blocks{suffix}"
    lets.append(
        f"let {undecided} = {decided}\n| where isnull(sigma_sign)\n"
        f"| project {by}, sigma_n, sigma_rows, sigma_last, sigma_lo, sigma_part"
    )
    lets.append(
        "\n".join(
            [
                f"let {blocks} = sigma_rank_sweep{suffix}",
                "| where sigma_kind == 0",
                f"{one}| join kind=inner ({undecided} {one}| summarize sigma_widest = max(sigma_rows) by {on}) on {on}",
                f"| extend sigma_level = {levels}",
                "| mv-expand sigma_level to typeof(long)",
                "| where binary_shift_left(1, sigma_level) <= sigma_widest",
                "| summarize sigma_low_max = max(sigma_low_max), sigma_high_min = min(sigma_high_min) "
                "by sigma_level, sigma_block = binary_shift_right(sigma_place_in - 1, sigma_level)",
            ]
        )
    )
    first_block = (
        "binary_shift_right(sigma_last - sigma_rows + binary_shift_left(1, sigma_level) - 1, sigma_level)"
    )
    last_block = "binary_shift_right(sigma_last, sigma_level) - 1"
    read = "\n".join(
        [
            undecided,
            f"| extend sigma_level = {levels}",
            "| mv-expand sigma_level to typeof(long)",
            "| where binary_shift_left(1, sigma_level) <= sigma_rows",
            f"| extend sigma_first_block = {first_block}, sigma_last_block = {last_block}",
            "| where sigma_first_block <= sigma_last_block",
            "| extend sigma_block = pack_array(sigma_first_block, sigma_last_block)",
            "| mv-expand sigma_block to typeof(long)",
            f"| join kind=inner ({blocks}) on sigma_level, sigma_block",
            "| summarize sigma_below_max = max(sigma_low_max), sigma_above_min = min(sigma_high_min) "
            f"by {by}, sigma_part",
            # the metric times 100, so that whole and half values compare without rounding
            f"| where sigma_below_max * (100 - sigma_part) + sigma_above_min * sigma_part {plan.operator} "
            f"{number_literal(float(Fraction(plan.threshold) * 100))}",
            f"| project {by}",
        ]
    )
    # a null sign (undecided) is not != 0 here: in Kusto null != 0 is true
    counted = f"{decided}\n| where isnotnull(sigma_sign) and sigma_sign {plan.operator} 0\n| project {by}"
    alerting = f"sigma_alerting{suffix}"
    lets.append(f"let {alerting} = union\n({counted}),\n({read})")
    return alerting


def ranked_metrics(plan: Any, alerting: str, suffix: str, lets: list[str]) -> str:
    """The alerting windows with the metric of each run's first window (the others' is empty)."""
    span = timespan_literal(plan.seconds)
    keys = group_keys(plan)
    by = f"{keys}{WINDOW_START}, {WINDOW_END}"
    runs = f"sigma_runs{suffix}"
    # a window opens a run when no alerting window of its group ended in [its start, its end)
    lets.append(
        f"let {runs} = "
        + sweep(
            plan,
            [
                f"{alerting} | project {keys}sigma_time = {WINDOW_END}, sigma_kind = 0, sigma_delta = long(0)",
                f"{alerting} | project {keys}sigma_time = {WINDOW_END}, sigma_kind = 1, sigma_delta = long(1)",
                f"{alerting} | project {keys}sigma_time = {WINDOW_END} + {span}, sigma_kind = 2, sigma_delta = long(-1)",
            ],
            "sigma_before",
        )
    )
    firsts = (
        f"{runs}\n    | where sigma_kind == 0 and sigma_before == 0\n"
        f"    | project {keys}{WINDOW_START} = sigma_time - {span}, {WINDOW_END} = sigma_time"
    )
    metric = plan.metric
    measured = "\n".join(
        [
            *evidence_join(plan, firsts, f"sigma_numbers{suffix}"),
            f"| summarize sigma_values = make_list(sigma_value) by {by}",
            *interpolated(metric, plan.percentile or 0.0),
            f"| project {by}, {metric}",
        ]
    )
    return "\n".join(
        [
            alerting,
            f"| join kind=leftouter ({measured}) on {by}",
            f"| project {by}, {metric}",
        ]
    )


def ranked_evidence(plan: Any, alerting: str, suffix: str) -> str:
    """Every alerting window with its events and its metric (pairs each window with its events)."""
    by = f"{group_keys(plan)}{WINDOW_START}, {WINDOW_END}"
    metric = plan.metric
    return "\n".join(
        [
            *evidence_join(plan, alerting, f"sigma_numbers{suffix}"),
            f"| summarize {EVIDENCE} = make_set(sigma_event), sigma_values = make_list(sigma_value) by {by}",
            *interpolated(metric, plan.percentile or 0.0),
            f"| project {by}, {metric}, {EVIDENCE}",
        ]
    )
