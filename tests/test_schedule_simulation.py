"""Consecutive scheduled runs over events that reach the workspace late: every event alerts once.

A model of how Sentinel runs a scheduled analytics rule, fed with what our analytics rule says:
a run at time T (every `queryFrequency`) sees the rows ingested by T, reads those whose
TimeGenerated lies in the look-back [T - queryPeriod, T], and the query's own bound
`ingestion_time() > ago(X)` keeps the rows ingested in (T - X, T]. The schedule and the bound are
read from the rendered YAML (not assumed), the query is checked by Microsoft's parser, and the runs
are counted per event: with an ingestion delay within the margin (queryPeriod - queryFrequency) an
event alerts in exactly one run; a later event is missed, never reported twice. Without the bound,
the same look-back reports the events of the overlap twice (the check can fail).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sigma.collection import SigmaCollection

from sigma_azure_aks.analytics.options import INGESTION_MARGIN, parse_duration
from sigma_azure_aks.backend import SentinelBackend

RULE = """
title: Virtual machine deleted
id: 0b7d1e35-4a8e-4c61-9f0e-5d2a9e6c1a11
status: test
logsource:
  product: azure
  service: activitylogs
detection:
  selection:
    operationName: MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE
  condition: selection
level: medium
"""
BOUND = re.compile(r"^\| where ingestion_time\(\) > ago\((\w+)\)$", re.MULTILINE)
SCHEDULES = {"default": {}, "1d": {"query_frequency": "1d"}, "30m": {"query_frequency": "30m"}}
MINUTE = 60


@dataclass(frozen=True)
class Schedule:
    """What an analytics rule tells Sentinel, in seconds: how often, how far back, and the query's
    ingestion bound (None: the query has none)."""

    frequency: int
    period: int
    bound: int | None

    @property
    def margin(self) -> int:
        return self.period - self.frequency


def rendered(options: dict[str, str]) -> dict:
    return yaml.safe_load(SentinelBackend(**options).convert(SigmaCollection.from_yaml(RULE), "yaml"))


def schedule_of(document: dict) -> Schedule:
    found = BOUND.findall(document["query"])
    assert len(found) <= 1
    return Schedule(
        parse_duration(document["queryFrequency"], "queryFrequency") * MINUTE,
        parse_duration(document["queryPeriod"], "queryPeriod") * MINUTE,
        parse_duration(found[0], "bound") * MINUTE if found else None,
    )


def alerts_per_event(schedule: Schedule, events: list[tuple[int, int]]) -> list[int]:
    """How many runs report each (TimeGenerated, ingestion time) event; runs at every multiple of the
    frequency from before the first event until after the last ingestion."""
    last = max(ingested for _, ingested in events)
    first = min(generated for generated, _ in events)
    start = (first // schedule.frequency - 1) * schedule.frequency
    counts = [0] * len(events)
    for run in range(start, last + 2 * schedule.frequency, schedule.frequency):
        for index, (generated, ingested) in enumerate(events):
            seen = ingested <= run and run - schedule.period <= generated <= run
            if seen and (schedule.bound is None or ingested > run - schedule.bound):
                counts[index] += 1
    return counts


def events_with_delays(delays: list[int], spread: int) -> list[tuple[int, int]]:
    """Events every few seconds across `spread` seconds, each ingested after one of the delays."""
    step = 7
    return [(t, t + delays[(t // step) % len(delays)]) for t in range(0, spread, step)]


@pytest.mark.parametrize("name", SCHEDULES)
def test_every_event_within_the_margin_alerts_exactly_once(name: str, kql) -> None:
    document = rendered(SCHEDULES[name])
    assert kql.errors(document["query"]) == []
    schedule = schedule_of(document)
    assert schedule.bound == schedule.frequency and schedule.margin == INGESTION_MARGIN * MINUTE
    delays = [0, 1, 59, 5 * MINUTE, 20 * MINUTE + 3, schedule.margin - 1, schedule.margin]
    events = events_with_delays(delays, 3 * schedule.frequency + 11)
    assert set(alerts_per_event(schedule, events)) == {1}


@pytest.mark.parametrize("name", SCHEDULES)
def test_an_event_later_than_the_margin_is_missed_never_reported_twice(name: str) -> None:
    schedule = schedule_of(rendered(SCHEDULES[name]))
    late = [schedule.margin + 1, schedule.margin + 10 * MINUTE, schedule.period + 1]
    counts = alerts_per_event(schedule, events_with_delays(late, 2 * schedule.frequency))
    assert max(counts) == 1 and 0 in counts
    # an event delayed by more than the whole look-back is read by no run at all
    assert alerts_per_event(schedule, [(0, schedule.period + 1)]) == [0]


@pytest.mark.parametrize("name", SCHEDULES)
def test_without_the_ingestion_bound_the_overlap_alerts_twice(name: str) -> None:
    schedule = schedule_of(rendered(SCHEDULES[name]))
    unbounded = Schedule(schedule.frequency, schedule.period, None)
    counts = alerts_per_event(unbounded, events_with_delays([0], 3 * schedule.frequency))
    assert max(counts) >= 2


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(SCHEDULES)),
    st.lists(
        st.tuples(st.integers(0, 3 * 24 * 3600), st.integers(0, INGESTION_MARGIN * MINUTE)),
        min_size=1,
        max_size=40,
    ),
)
def test_any_events_within_the_margin_alert_once(name: str, raw: list[tuple[int, int]]) -> None:
    schedule = SCHEDULE_CACHE.setdefault(name, schedule_of(rendered(SCHEDULES[name])))
    events = [(generated, generated + delay) for generated, delay in raw]
    assert set(alerts_per_event(schedule, events)) == {1}


SCHEDULE_CACHE: dict[str, Schedule] = {}


def test_nrt_has_no_schedule_and_each_run_reads_what_was_ingested_since_the_last() -> None:
    """Sentinel runs an NRT rule about once a minute over the rows ingested since its previous run
    (no look-back of its own): the rule carries no schedule and no bound, so each event is read once,
    whatever its delay."""
    document = rendered({"kind": "nrt"})
    assert document["kind"] == "NRT" and "queryFrequency" not in document and "queryPeriod" not in document
    assert BOUND.findall(document["query"]) == []
    runs = range(0, 3 * 3600 + 2 * MINUTE, MINUTE)
    events = events_with_delays([0, 59, 30 * MINUTE, 90 * MINUTE], 3600)
    counts = [sum(1 for run in runs if run - MINUTE < ingested <= run) for _, ingested in events]
    assert set(counts) == {1}
