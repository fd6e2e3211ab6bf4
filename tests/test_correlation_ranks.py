"""value_median and value_percentile decided by running counts and, where counts cannot decide, by
the window's greatest value below the threshold and least above it (dyadic blocks): checked against
an exact rational reading of the specification on generated windows, with many events per window
(several block levels), many at one time and many exactly one timespan apart."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from test_correlation_sums import COMPARE, SPAN, numeric_alerts, seconds, window_numbers

# whole and half values around the thresholds, some not numbers at all
VALUES = st.one_of(
    st.integers(-4, 12).map(lambda n: n / 2), st.integers(-4, 12), st.sampled_from(["x", None, "2.5", "-4"])
)
EVENTS = st.lists(st.tuples(st.integers(0, 8).map(lambda n: n * SPAN // 4), VALUES), min_size=1, max_size=70)


def _number(value: Any) -> Fraction | None:
    try:
        return None if value is None else Fraction(str(float(value)))
    except ValueError:
        return None


def ranked(values: list[Fraction], percentile: int) -> Fraction:
    """The specification's reading: linear between the ranks around (n - 1) * p / 100."""
    ordered = sorted(values)
    rank = Fraction(len(ordered) - 1) * percentile / 100
    low = int(rank)
    if low + 1 >= len(ordered):
        return ordered[low]
    return ordered[low] + (rank - low) * (ordered[low + 1] - ordered[low])


def expected(percentile: int, rows: list[tuple[int, Any]]) -> dict[int, tuple[Fraction, list[str]]]:
    """window end -> (exact metric, event ids) of every window holding numbers."""
    return {
        end: (ranked([n for _, n in inside], percentile), sorted(name for name, _ in inside))
        for end, inside in window_numbers(rows, _number).items()
    }


def replayed(kind: str, condition: str, threshold: int, percentile: int, rows: list[Any], every: bool) -> Any:
    extra = f", percentile: {percentile}" if kind == "value_percentile" else ""
    return numeric_alerts(kind, condition, threshold, rows, every_window=every, extra=extra)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["value_median", "value_percentile"]),
    condition=st.sampled_from(sorted(COMPARE)),
    threshold=st.integers(-2, 6),
    percentile=st.sampled_from([0, 1, 10, 25, 33, 50, 67, 75, 90, 99, 100]),
    rows=EVENTS,
)
# a window counts cannot decide under `neq` (median of [0, 6] is 3: not unequal)
@example(kind="value_median", condition="neq", threshold=3, percentile=50, rows=[(0, 0.0), (900, 0.0), (1200, 6)])
def test_ranked_windows_are_exact(kind: str, condition: str, threshold: int, percentile: int, rows: list[Any]) -> None:
    percentile = 50 if kind == "value_median" else percentile
    reference = expected(percentile, rows)
    alerting = {end: ids for end, (metric, ids) in reference.items() if COMPARE[condition](metric, threshold)}
    windows = replayed(kind, condition, threshold, percentile, rows, every=True)
    ours = {seconds(alert.window_end): alert for alert in windows}
    assert set(ours) == set(alerting)
    for end, alert in ours.items():
        assert sorted(alert.event_ids) == alerting[end]
        assert alert.metric == pytest.approx(float(reference[end][0]), abs=1e-9)
    # the deployed form: one alert per run of overlapping alerting windows, with the first window's metric
    runs: list[int] = []
    for end in sorted(alerting):
        if not runs or end - SPAN > runs[-1][-1]:
            runs.append([end])  # type: ignore[arg-type]
        else:
            runs[-1].append(end)  # type: ignore[attr-defined]
    episodes = replayed(kind, condition, threshold, percentile, rows, every=False)
    assert [(seconds(e.window_end), seconds(e.last_window_end)) for e in episodes] == [
        (run[0], run[-1])  # type: ignore[index]
        for run in runs
    ]
    for episode in episodes:
        assert episode.metric == pytest.approx(float(reference[seconds(episode.window_end)][0]), abs=1e-9)


def test_undecided_window_reads_the_values_around_the_threshold() -> None:
    """At 30 the window holds [1, 2, 10, 20]: the median lies between 2 and 10 (rank 1.5), 6 exactly;
    counts alone cannot tell `gte: 6` (true) from `gt: 6` (false), the values around it can. The
    windows before hold [20], [1, 20] and [1, 10, 20]: medians 20, 10.5, 10."""
    rows = [(0, 20), (10, 1), (20, 10), (30, 2)]
    assert [seconds(a.window_end) for a in replayed("value_median", "gte", 6, 50, rows, every=True)] == [0, 10, 20, 30]
    assert [seconds(a.window_end) for a in replayed("value_median", "gt", 6, 50, rows, every=True)] == [0, 10, 20]
    [lower] = replayed("value_median", "lt", 7, 50, rows, every=False)
    assert (seconds(lower.window_end), lower.metric) == (30, 6.0)


def test_wide_windows_cover_every_block_level() -> None:
    """Up to 121 times in one window (blocks of 1 to 64 rows): values below 5 and above it in turn,
    so every window of an even number of values holds as many below as above and its median is the
    mean of its greatest value below 5 and least above, wherever they sit."""
    import random

    rng = random.Random(7)
    for _ in range(3):
        rows = [(5 * n, rng.randrange(0, 5000) / 1000 if n % 2 == 0 else 5 + rng.randrange(1, 5000) / 1000)
                for n in range(200)]  # fmt: skip
        reference = expected(50, rows)
        undecided = []
        for condition in ("gte", "lt"):
            alerting = sorted(end for end, (metric, _) in reference.items() if COMPARE[condition](metric, 5))
            ours = [seconds(a.window_end) for a in replayed("value_median", condition, 5, 50, rows, every=True)]
            assert ours == alerting
            undecided.append(sum((end // 5) % 2 for end in alerting))
        assert all(undecided), undecided  # each condition alerts on windows counts alone cannot decide


def test_an_undecided_window_is_not_counted_as_unequal() -> None:
    """Kusto reads `null != 0` as true: a window counts cannot decide (its sign null) must not pass
    the counted `neq` too, or it is listed twice and its values counted twice (1st percentile of
    [0, 7]: 0.07)."""
    [window] = replayed("value_percentile", "neq", 1, 1, [(0, 0.0), (0, 7)], every=True)
    assert (window.metric, sorted(window.event_ids)) == (pytest.approx(0.07), ["e0", "e1"])
