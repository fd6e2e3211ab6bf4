"""value_sum and value_avg windows in exact integers: the sweep of :mod:`.correlation_windows` with
each number held as five integers (its whole part and four 20-bit fraction limbs), so that adding
and taking away never rounds, and the comparison with the threshold decided in integers.

A value v with |v| < 2^36 that is a multiple of 2^-80 (every double of magnitude 2^-28 or more below
2^36, and zero) is exact: ``whole = floor(v)`` and the limbs ``f1..f4`` of ``v - whole`` (each step
``r * 2^20`` then ``floor``: exact on doubles). Each (group, time) enters with the sums of its exact
numbers' parts, its count of numbers and its count of other ("inexact") values, and leaves
`timespan` later, all as running sums of longs, which cancel exactly. A window with fewer than 2^25
numbers and no inexact value has its sum exactly: its gap to the threshold (times the count, for an
average) is carried limb by limb into a whole part and four limbs in [0, 2^20), whose sign is the
comparison's. A window holding an inexact value (1e-30, 2^40, inf, NaN) or 2^25 numbers or more is
paired with its events and summed as reals (the square of its numbers, for those windows only)."""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from .correlation_windows import (
    EXACT_BELOW,
    EXACT_COUNT_BELOW,
    GRID,
    LIMB,
    LIMB_BITS,
    LIMBS,
    WINDOW_END,
    WINDOW_START,
    evidence_join,
    group_keys,
    number_literal,
    numeric_events,
    sweep_sums,
    timespan_literal,
)

WHOLE_LIMIT = 1 << 61  # |sum| < EXACT_BELOW * EXACT_COUNT_BELOW
_FRACTIONS = tuple(f"sigma_f{n}" for n in range(1, LIMBS + 1))
_SUMS = ("sigma_count", "sigma_inexact", "sigma_whole", *_FRACTIONS)


def scaled_threshold(plan: Any) -> tuple[str, int] | bool:
    """(operator, threshold * 2^80 as an integer) with the same outcome as the plan's comparison
    for every exact window sum or average; True or False when the outcome is the same for all."""
    exact = Fraction(plan.threshold) * GRID
    limit = (WHOLE_LIMIT if plan.kind == "value_sum" else EXACT_BELOW) * GRID
    exact = max(-limit, min(limit, exact))  # every exact sum (average) lies strictly inside
    if exact.denominator == 1:
        return plan.operator, int(exact)
    # a sum is a multiple of 2^-80: round the threshold to the grid on the side that keeps the outcome
    rounded = {
        ">=": (">=", math.ceil),
        ">": (">", math.floor),
        "<=": ("<=", math.floor),
        "<": ("<", math.ceil),
    }
    if plan.operator in rounded:
        operator, rounding = rounded[plan.operator]
        return operator, rounding(exact)
    return plan.operator == "!="


def threshold_parts(scaled: int) -> tuple[int, ...]:
    """A multiple of 2^-80 (given times 2^80) as its whole part and its four fraction limbs."""
    whole, rest = divmod(scaled, GRID)
    limbs = [(rest >> (LIMB_BITS * (LIMBS - n))) & (LIMB - 1) for n in range(1, LIMBS + 1)]
    return (whole, *limbs)


def _parts(numbered: str, keys: str) -> str:
    lines = [
        numbered,
        "| extend sigma_whole = floor(sigma_value, 1)",
        f"| extend sigma_r1 = (sigma_value - sigma_whole) * {LIMB}",
    ]
    for n in range(1, LIMBS + 1):
        lines.append(f"| extend sigma_f{n} = floor(sigma_r{n}, 1)")
        if n < LIMBS:
            lines.append(f"| extend sigma_r{n + 1} = (sigma_r{n} - sigma_f{n}) * {LIMB}")
    lines.append(
        f"| extend sigma_exact = abs(sigma_value) < {EXACT_BELOW} and sigma_r{LIMBS} == sigma_f{LIMBS}"
    )
    sums = ", ".join(f"{name} = sum(iff(sigma_exact, tolong({name}), long(0)))" for name in _SUMS[2:])
    lines.append(
        f"| summarize sigma_count = count(), sigma_inexact = countif(not(sigma_exact)), {sums} by {keys}sigma_time"
    )
    return "\n".join(lines)


def _compared(operator: str, scaled: int, times: str) -> list[str]:
    """Lines keeping the windows whose exact sum (average) compares with the threshold (times
    2^80: `scaled`) as `operator` does: the gap limb by limb, carried upward so that each limb is
    in [0, 2^20) (floor division on reals: exact below 2^53), then its sign."""
    whole, *limbs = threshold_parts(scaled)
    gaps = [f"sigma_g0 = sigma_whole - {whole}{times}"]
    gaps += [
        f"sigma_g{n} = sigma_f{n}" + (f" - {limb}{times}" if limb else "") for n, limb in enumerate(limbs, start=1)
    ]
    lines = ["| extend " + ", ".join(gaps)]
    carried = f"sigma_g{LIMBS}"
    for n in range(LIMBS, 0, -1):
        carry = f"tolong(floor({carried} / {float(LIMB)!r}, 1))"
        lines.append(
            f"| extend sigma_m{n} = {carried} - {carry} * {LIMB}, sigma_h{n - 1} = sigma_g{n - 1} + {carry}"
        )
        carried = f"sigma_h{n - 1}"
    rest = " + ".join(f"sigma_m{n}" for n in range(1, LIMBS + 1))
    lines.append(f"| extend sigma_order = iff(sigma_h0 > 0, 1, iff(sigma_h0 < 0, -1, iff({rest} > 0, 1, 0)))")
    lines.append(f"| where sigma_order {operator} 0")
    return lines


def numeric_windows(plan: Any, events: str, suffix: str, lets: list[str]) -> str:
    """value_sum, value_avg: each window's numbers swept as exact integers (see above), compared with
    the threshold in integers; the windows holding an inexact value (or 2^25 numbers or more)
    paired with their events and summed as reals."""
    span = timespan_literal(plan.seconds)
    keys = group_keys(plan)
    parts, swept = f"sigma_parts{suffix}", f"sigma_swept{suffix}"
    numbered = numeric_events(plan, events, suffix, lets)
    lets.append(f"let {parts} = {_parts(numbered, keys)}")
    leaving = ", ".join(f"{name} = -{name}" for name in _SUMS)
    nothing = ", ".join(f"{name} = long(0)" for name in _SUMS)
    branches = [
        f"{parts} | project {keys}sigma_time, sigma_kind = 0, {', '.join(_SUMS)}",
        f"{parts} | project {keys}sigma_time = sigma_time + {span}, sigma_kind = 2, {leaving}",
        f"{events} | distinct {keys}sigma_time | project {keys}sigma_time, sigma_kind = 1, {nothing}",
    ]
    lets.append(f"let {swept} = {sweep_sums(plan, branches, _SUMS)}")
    windows = f"sigma_numeric{suffix}"
    lets.append(
        f"let {windows} = {swept}\n| where sigma_kind == 1 and sigma_count_in > 0\n"
        f"| project {keys}{WINDOW_START} = sigma_time - {span}, {WINDOW_END} = sigma_time, "
        + ", ".join(f"{name} = {name}_in" for name in _SUMS)
    )
    metric = plan.metric
    per = " / sigma_count" if plan.kind == "value_avg" else ""
    fractions = " + ".join(
        f"toreal(sigma_f{n}) / {float(1 << (LIMB_BITS * n))!r}" for n in range(1, LIMBS + 1)
    )
    value = f"(toreal(sigma_whole) + {fractions}){per}"
    exact = [f"{windows}", f"| where sigma_inexact == 0 and sigma_count < {EXACT_COUNT_BELOW}"]
    threshold = scaled_threshold(plan)
    if threshold is False:
        exact.append("| where false")
    elif threshold is not True:
        operator, scaled = threshold
        exact += _compared(operator, scaled, " * sigma_count" if plan.kind == "value_avg" else "")
    exact.append(f"| project {keys}{WINDOW_START}, {WINDOW_END}, {metric} = {value}")
    function = "sum" if plan.kind == "value_sum" else "avg"
    by = f"{keys}{WINDOW_START}, {WINDOW_END}"
    paired = [
        *evidence_join(
            plan,
            f"{windows}\n    | where sigma_inexact > 0 or sigma_count >= {EXACT_COUNT_BELOW}\n"
            f"    | project {by}",
            numbered,
        ),
        f"| summarize {metric} = {function}(sigma_value) by {by}",
        f"| where {metric} {plan.operator} {number_literal(plan.threshold)}",
    ]
    alerting = f"sigma_alerting{suffix}"
    lets.append(f"let {alerting} = union\n(" + "\n".join(exact) + "),\n(" + "\n".join(paired) + ")")
    return alerting
