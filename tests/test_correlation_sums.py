"""value_sum and value_avg: the swept windows' sums are exact (integers, no drift from adding and
taking away reals), checked against exact rational arithmetic on generated windows; windows holding
a value the integers cannot hold exactly are summed as reals, checked against a correctly rounded
sum away from the threshold."""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replay_support import require_engine
from test_correlation_replay import BASES, CORRELATION_ID, EPOCH, event

from sigma_azure_aks.correlation_windows import EXACT_BELOW, GRID

SPAN = 600
COMPARE = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le, "eq": operator.eq,
           "neq": operator.ne}  # fmt: skip
TINY = 2.0**-16
# exact: every double of magnitude 2^-28 or more below 2^36 (decimals included), the extremes too;
# inexact: what the limbs cannot hold (below 2^-28 with lower bits, 2^36 and beyond)
EXACT = st.one_of(
    st.integers(-20, 20).map(float),
    st.sampled_from([0.5, 0.25, -0.75, TINY, -TINY, 2.0**35, -(2.0**35), 0.1, 0.2, -0.1, 0.3, 1 / 3, 123.456, 2.0**-28]),
    st.integers(-(EXACT_BELOW * 2**16) + 1, EXACT_BELOW * 2**16 - 1).map(lambda n: n / 2**16),
    st.floats(min_value=-1000, max_value=1000, allow_nan=False).filter(lambda v: v == 0 or abs(v) >= 2.0**-28),
)
INEXACT = st.sampled_from([1e12, -1e12, 1e-10, -3e-30, 2.0**36])
VALUES = st.one_of(EXACT, EXACT, EXACT, INEXACT, st.sampled_from(["x", None, "2.5", "-4"]))
# many events at one time and many exactly one timespan apart
EVENTS = st.lists(st.tuples(st.integers(0, 6).map(lambda n: n * SPAN // 2), VALUES), min_size=1, max_size=40)


def _number(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def window_numbers(rows: list[tuple[int, Any]], read: Any) -> dict[int, list[tuple[str, Any]]]:
    """window end -> the (event id, number read by `read`) of the window ending then, for every
    window holding a number (events e0, e1, ... in the order of `rows`)."""
    windows = {}
    for end in {time for time, _ in rows}:
        inside = [
            (f"e{index}", number)
            for index, (time, value) in enumerate(rows)
            if end - SPAN <= time <= end and (number := read(value)) is not None
        ]
        if inside:
            windows[end] = inside
    return windows


def _exact(value: float) -> bool:
    return abs(value) < EXACT_BELOW and (Fraction(value) * GRID).denominator == 1


def expected(kind: str, condition: str, threshold: int, rows: list[tuple[int, Any]]) -> dict[int, Any]:
    """window end -> (the metric as an exact rational or a float, whether it is exact, event ids) of
    every window that has numbers; alerting or not is decided by the caller."""
    windows = {}
    for end, inside in window_numbers(rows, _number).items():
        exact = all(_exact(number) for _, number in inside)
        if exact:
            total: Any = sum((Fraction(number) for _, number in inside), Fraction(0))
        else:
            total = math.fsum(number for _, number in inside)
        metric = total / len(inside) if kind == "value_avg" else total
        windows[end] = (metric, exact, sorted(name for name, _ in inside))
    return windows


def numeric_alerts(
    kind: str, condition: str, threshold: int, rows: list[tuple[int, Any]], every_window: bool = True, extra: str = ""
) -> list[Any]:
    """The alerts of a `kind` correlation over properties.code (with `extra` in its condition) per
    caller in 10m on events (seconds, code; None for none)."""
    require_engine()
    from sigma_azure_aks.replay import replay

    rule = (
        f"title: Numbers\nid: {CORRELATION_ID}\nstatus: test\ncorrelation:\n    type: {kind}\n    rules: [failed]\n"
        f"    group-by: [caller]\n    timespan: 10m\n"
        f"    condition: {{{condition}: {threshold}, field: properties.code{extra}}}\n"
    )
    events = [
        event(f"e{index}", time, **({} if value is None else {"Properties_d": {"code": value}}))
        for index, (time, value) in enumerate(rows)
    ]
    result = replay(BASES + "---\n" + rule, events, every_window=every_window)
    assert not result.failures, result.failures
    [hit] = [h for h in result.hits if h.rule_id == CORRELATION_ID]
    return hit.alerts


def seconds(moment: Any) -> int:
    return int((moment.replace(tzinfo=None) - EPOCH.replace(tzinfo=None)).total_seconds())


def replayed(kind: str, condition: str, threshold: int, rows: list[tuple[int, Any]]) -> dict[int, Any]:
    return {
        seconds(alert.window_end): (alert.metric, sorted(alert.event_ids))
        for alert in numeric_alerts(kind, condition, threshold, rows)
    }


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["value_sum", "value_avg"]),
    condition=st.sampled_from(sorted(COMPARE)),
    threshold=st.integers(-3, 12),
    rows=EVENTS,
)
def test_window_sums_and_averages_are_exact(kind: str, condition: str, threshold: int, rows: list[Any]) -> None:
    ours = replayed(kind, condition, threshold, rows)
    reference = expected(kind, condition, threshold, rows)
    assert set(ours) <= set(reference)
    for end, (metric, exact, ids) in reference.items():
        if exact:  # decided in rationals: the comparison with no rounding at all
            alerts = COMPARE[condition](metric, threshold)
        elif abs(metric - threshold) > 1e-6 * max(1.0, abs(metric)):
            alerts = COMPARE[condition](metric, threshold)
        else:  # a real sum this close to the threshold is decided by rounding, as in any real sum
            continue
        assert (end in ours) == alerts, (end, float(metric), ours.get(end))
        if alerts:
            assert ours[end][1] == ids
            assert ours[end][0] == pytest.approx(float(metric), rel=1e-12, abs=1e-12)


def test_adding_and_taking_away_reals_does_not_drift() -> None:
    """A window after 0.5 and 2^35 + 2^-16 left: exactly 2^-16 more than 3 (a real running sum,
    or a real sum of these values, would round the 2^-16 away and miss `gt: 3`)."""
    tiny = TINY
    rows = [(0, 2.0**35 + tiny), (0, 0.5), (SPAN + 1, 3.0), (SPAN + 1, -(2.0**35)), (SPAN + 1, 2.0**35), (SPAN + 2, "x")]
    ours = replayed("value_sum", "gt", 3, rows)
    # at 601: the first two left; 3 - 2^35 + 2^35 = 3 (not above 3); no window above 3 but the first ones
    assert SPAN + 1 not in ours and SPAN + 2 not in ours
    assert ours[0][0] == pytest.approx(2.0**35 + 0.5)
    # 4 * 2^35 + 2^-16 - 4 * 2^35 + 3 = 3 + 2^-16 > 3; summed as reals in this order: 2^37 + 2^-16
    # needs 54 bits and rounds to 2^37, and the sum comes out as 3
    values = [2.0**35] * 4 + [tiny] + [-(2.0**35)] * 4 + [3.0]
    total = 0.0
    for value in values:
        total += value
    assert total == 3.0
    drift = replayed("value_sum", "gt", 3, [(0, value) for value in values])
    assert list(drift) == [0] and drift[0][0] == 3 + tiny


def test_an_episode_lists_the_events_with_numbers_only() -> None:
    """Replay's alert (one per episode, as deployed): the events it lists are those the sums read,
    the ones with a numeric value; an event without one in the same span is no evidence."""
    from test_correlation_replay import episodes

    correlation = (
        "type: value_sum\nrules: [failed]\ngroup-by: [caller]\ntimespan: 10m\n"
        "condition: {gte: 6, field: properties.code}"
    )
    rows = [
        event("n1", 0, Properties_d={"code": 2.5}),
        event("text", 10, Properties_d={"code": "x"}),
        event("none", 20),
        event("n2", 30, Properties_d={"code": "3.5"}),
        event("n3", 700, Properties_d={"code": 0.1}),  # inexact: its windows are summed as reals
        event("n4", 710, Properties_d={"code": 6}),
    ]
    [first, second] = episodes(correlation, rows)
    assert (first.metric, first.event_ids, first.event_total) == (6.0, ["n1", "n2"], 2)
    assert (second.metric, second.event_ids, second.event_total) == (pytest.approx(6.1), ["n3", "n4"], 2)


@pytest.mark.parametrize("kind", ["value_median", "value_percentile"])
def test_a_ranked_alert_lists_the_events_with_numbers_only(kind: str) -> None:
    from test_correlation_replay import episodes

    extra = ", percentile: 50" if kind == "value_percentile" else ""
    correlation = (
        f"type: {kind}\nrules: [failed]\ngroup-by: [caller]\ntimespan: 10m\n"
        f"condition: {{gte: 3, field: properties.code{extra}}}"
    )
    rows = [
        event("n1", 0, Properties_d={"code": 2.5}),
        event("text", 10, Properties_d={"code": "x"}),
        event("n2", 30, Properties_d={"code": "3.5"}),
    ]
    [alert] = episodes(correlation, rows)
    assert (alert.metric, alert.event_ids, alert.event_total) == (3.0, ["n1", "n2"], 2)
