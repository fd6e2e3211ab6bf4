"""Scheduled correlation rules, simulated run by run: every alerting window reported exactly once.

The analytics rule of a correlation runs every `queryFrequency`, reads the events of the last
`queryPeriod`, and reports the windows that end in one run interval (its own `where window_end
> ago(A) and window_end <= ago(B)`), one alert per group and run (`summarize arg_min(window_end,
*), alerting_windows = count() by <groups>`). This test deploys nothing: it reads those settings
and that filter from the rule as exported, and replays consecutive runs. Each run sees exactly
the events it would read: TimeGenerated in ``(run - queryPeriod, run]`` and already ingested
(every event arrives after a random delay up to the ingestion delay the rule allows for). The run
computes the correlation on those events alone and keeps the windows its filter keeps.

"Once", as the deployed rule defines it: the reference is the correlation computed on every
event (the windows replay lists). Every reference window is reported by exactly one run, in the
alert of its group (the run's `alerting_windows` counts it; the alert shows the run's first
window); no run reports a window the reference does not have, nor one with other metric or
events (a window seen only in part). Compared per run: the windows the run keeps must be exactly
the reference windows ending in its interval, so the intervals tile time and none is counted
twice. Rules: every correlation type, thresholds above and below (a `lt` threshold turns a
window seen in part into a false alert), and chains whose referenced correlation has a longer
timespan than the chaining one, two levels deep. Runs on the minute grid of the events (windows
ending exactly on an interval's edge) and off it.
"""

from __future__ import annotations

import json
import os
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from replay_support import require_engine
from sigma.collection import SigmaCollection

from sigma_azure_aks.analytics.correlation import INGESTION_DELAY
from sigma_azure_aks.backend import SentinelBackend

EPOCH = datetime(2026, 4, 1, tzinfo=UTC)
HOURS = 3
N_EVENTS = 260
FREQUENCY = "20m"
# Seconds after the events' minute grid of the first run: on it (windows ending exactly on an
# interval's edge) and, in CI, off it too.
RUN_OFFSETS = (0, 7) if os.environ.get("CI") else (0,)
OPERATIONS = ["alpha/write", "beta/delete", "alphabet/action", "gamma/read"]
CALLERS = ["alice@contoso.com", "Bob@Contoso.com", "carol@contoso.com"]
IPS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
BASES = {
    "r_alpha": {"operationName|startswith": "alpha"},
    "r_bet": {"operationName|contains": "bet"},
    "r_write": {"operationName|endswith": "write"},
}
# name -> correlation body; children are named and referenced by name.
CORRELATIONS: dict[str, dict[str, Any]] = {
    "burst": {"type": "event_count", "rules": ["r_alpha"], "timespan": "10m", "condition": {"gte": 3}},
    "lonely": {"type": "event_count", "rules": ["r_bet"], "timespan": "15m", "condition": {"lt": 2}},
    "addresses": {
        "type": "value_count", "rules": ["r_alpha", "r_bet"], "timespan": "30m",
        "condition": {"gte": 2, "field": "callerIpAddress"},
    },
    "codes": {
        "type": "value_sum", "rules": ["r_write"], "timespan": "10m", "condition": {"gt": 8, "field": "properties.code"},
    },
    "both": {"type": "temporal", "rules": ["r_alpha", "r_bet"], "timespan": "20m"},
    "ordered": {"type": "temporal_ordered", "rules": ["r_bet", "r_write"], "timespan": "20m"},
    "hour_burst": {"type": "event_count", "rules": ["r_alpha"], "timespan": "1h", "condition": {"gte": 6}},
    "bursts_again": {"type": "event_count", "rules": ["hour_burst"], "timespan": "10m", "condition": {"gte": 2}},
    "quiet_long": {"type": "event_count", "rules": ["r_bet"], "timespan": "90m", "condition": {"lte": 3}},
    "quiet_then_write": {"type": "temporal_ordered", "rules": ["quiet_long", "r_write"], "timespan": "15m"},
    "deep_1": {"type": "event_count", "rules": ["r_write"], "timespan": "45m", "condition": {"gte": 4}},
    "deep_2": {"type": "event_count", "rules": ["deep_1"], "timespan": "30m", "condition": {"gte": 3}},
    "deep_3": {"type": "event_count", "rules": ["deep_2"], "timespan": "10m", "condition": {"gte": 2}},
}


def rule_id(name: str) -> str:
    return f"0f0f0000-0000-4000-8000-{sorted(CORRELATIONS).index(name):012d}"


def documents() -> str:
    docs = [
        {
            "title": name, "id": f"0f0f0000-0000-4000-a000-{number:012d}", "name": name, "status": "test",
            "logsource": {"product": "azure", "service": "activitylogs"},
            "detection": {"sel": item, "condition": "sel"},
        }
        for number, (name, item) in enumerate(BASES.items())
    ]
    docs += [
        {
            "title": f"correlation {name}", "id": rule_id(name), "name": name, "status": "test",
            "correlation": {**body, "group-by": ["caller"]},
        }
        for name, body in CORRELATIONS.items()
    ]
    return "\n---\n".join(json.dumps(d) for d in docs)


def make_events(rng: random.Random) -> list[tuple[dict[str, Any], int, int]]:
    """(row, seconds after EPOCH, ingestion delay in seconds) of each event, bursts included."""
    events = []
    for index in range(N_EVENTS):
        if index % 4 == 0 and events:  # a burst: close to the event before
            seconds = min(events[-1][1] + rng.randrange(0, 4) * 30, HOURS * 3600)
        else:
            seconds = rng.randrange(0, HOURS * 60) * 60 + rng.choice([0, 0, 0, 30])
        row: dict[str, Any] = {
            "$table": "AzureActivity",
            "EventDataId": f"e{index:04d}",
            "TimeGenerated": (EPOCH + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
            "OperationNameValue": rng.choice(OPERATIONS),
            "Caller": rng.choice(CALLERS),
            "CallerIpAddress": rng.choice(IPS),
            "Properties_d": {"code": rng.choice([1, 2, 3, 5])},
        }
        events.append((row, seconds, rng.randint(0, INGESTION_DELAY * 60)))
    return events


def _minutes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([mhd])", str(text)).groups()  # type: ignore[union-attr]
    return int(number) * {"m": 1, "h": 60, "d": 1440}[unit]


def deployed(collection_text: str) -> dict[str, tuple[int, int, int, int]]:
    """Rule id -> (queryFrequency, queryPeriod, A, B) in seconds, as exported: the run reports the
    windows with ``window_end > ago(A) and window_end <= ago(B)``."""
    output = SentinelBackend(query_frequency=FREQUENCY).convert(SigmaCollection.from_yaml(collection_text), "yaml")
    found = {}
    for document in yaml.safe_load_all(output):
        query = document["query"]
        match = re.search(r"\| where window_end > ago\((\d+)m\) and window_end <= ago\((\d+)m\)\n", query)
        if match is None:
            continue
        assert "| summarize arg_min(window_end, *), alerting_windows = count() by caller" in query
        frequency, period = _minutes(document["queryFrequency"]), _minutes(document["queryPeriod"])
        found[document["id"]] = (frequency * 60, period * 60, int(match[1]) * 60, int(match[2]) * 60)
    return found


def windows(engine: Any, plan: Any) -> set[tuple[str, int, int, float, frozenset[str]]]:
    """(group, window start, window end, metric, events) of every alerting window."""
    found = set()
    for row in engine.alerts(plan, evidence=True):
        ids = row["event_ids"]
        ids = json.loads(ids) if isinstance(ids, str) else list(ids or [])
        start, end = (int((row[c].replace(tzinfo=UTC) - EPOCH).total_seconds()) for c in ("window_start", "window_end"))
        found.add((str(row["caller"]), start, end, round(float(row[plan.metric]), 9), frozenset(ids)))
    return found


def test_scheduled_runs_report_every_alert_once(report: Any) -> None:
    require_engine()
    from sigma_azure_aks.correlation import plan_of
    from sigma_azure_aks.replay.api import convert
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.loaders import read_events

    text = documents()
    schedule = deployed(text)
    converted, failures = convert(text)
    assert not failures, failures
    plans = {str(c.rule.id): plan for c in converted if (plan := plan_of(c.rule)) is not None}
    # pySigma 2 deploys no rule for a correlation only another one reads; pySigma 1.5 does
    referenced = {name for body in CORRELATIONS.values() for name in body["rules"]}
    assert set(plans) == set(schedule) >= {rule_id(name) for name in CORRELATIONS if name not in referenced}
    rng = random.Random(20261206)
    events = make_events(rng)
    loaded = read_events([row for row, _, _ in events])
    timing = {row["EventDataId"]: (seconds, lag) for row, seconds, lag in events}

    engine = Engine()
    engine.load("AzureActivity", (event.row for event in loaded))
    reference = {key: windows(engine, plan) for key, plan in plans.items()}
    engine.close()

    def read_by(run: int, period: int) -> list[Any]:
        """The events a run at `run` reading `period` sees: in its period and already ingested."""
        return [
            e for e in loaded
            if run - period < timing[str(e.event_id)][0] <= run and sum(timing[str(e.event_id)]) <= run
        ]

    frequency = {s[0] for s in schedule.values()}.pop()
    assert all(s[0] == frequency and s[2] - s[3] == frequency for s in schedule.values())  # intervals tile
    count = (HOURS * 3600 + INGESTION_DELAY * 60) // frequency + 2
    runs = reported = alerts = 0
    problems: list[str] = []
    for offset in RUN_OFFSETS:
        seen: dict[str, list[Any]] = {key: [] for key in plans}
        for number in range(count):
            run = offset + number * frequency
            runs += 1
            for period in sorted({s[1] for s in schedule.values()}):
                engine = Engine()
                engine.load("AzureActivity", (event.row for event in read_by(run, period)))
                for key, plan in plans.items():
                    _, read, newest, oldest = schedule[key]
                    if read != period:
                        continue
                    kept = {w for w in windows(engine, plan) if run - newest < w[2] <= run - oldest}
                    expected = {w for w in reference[key] if run - newest < w[2] <= run - oldest}
                    if kept != expected:
                        problems.append(
                            f"rule {key} run at {run}s: missed {sorted(expected - kept)[:2]}, "
                            f"wrong {sorted(kept - expected)[:2]}"
                        )
                    seen[key].extend(kept)
                    reported += len(kept)
                    alerts += len({w[0] for w in kept})  # one alert per group and run
                engine.close()
        for key, found in seen.items():
            twice = len(found) - len(set(found))
            missing = reference[key] - set(found)
            if twice or missing:
                problems.append(f"rule {key}: {twice} windows reported twice, {len(missing)} never reported")
    total = sum(len(found) for found in reference.values())
    report(
        f"correlation schedule simulation: {len(plans)} rules ({sum(p.chained for p in plans.values())} chained), "
        f"{runs} runs every {FREQUENCY} at {len(RUN_OFFSETS)} offsets, {N_EVENTS} events; "
        f"{total} alerting windows in the reference, {reported} reported by the runs ({len(RUN_OFFSETS)} x) in "
        f"{alerts} alerts (one per group and run), "
        f"{len(problems)} problems"
    )
    assert total > 0 and all(reference[rule_id(n)] for n in ("bursts_again", "quiet_then_write", "deep_3"))
    assert not problems, problems[:5]


def _yaml_rule(names: list[str], **options: Any) -> dict[str, Any]:
    text = "\n---\n".join(
        d for d in documents().split("\n---\n") if json.loads(d).get("name") in {*names, *BASES}
    )
    output = SentinelBackend(**options).convert(SigmaCollection.from_yaml(text), "yaml")
    return {d["name"] if "name" in d else d["displayName"]: d for d in yaml.safe_load_all(output)}


def test_a_chain_reads_the_timespans_of_the_whole_chain() -> None:
    rules = _yaml_rule(["hour_burst", "bursts_again", "deep_1", "deep_2", "deep_3"])
    periods = {name: (d["queryFrequency"], d["queryPeriod"]) for name, d in rules.items()}
    assert periods["correlation bursts_again"] == ("1h", "160m")  # 1h + (10m + 1h) + 30m
    assert periods["correlation deep_3"] == ("1h", "175m")  # 1h + (10m + 30m + 45m) + 30m


def test_a_chain_too_long_for_sentinel_names_its_timespans() -> None:
    import pytest
    from sigma.exceptions import SigmaError

    saved = CORRELATIONS["hour_burst"]["timespan"], CORRELATIONS["bursts_again"]["timespan"]
    CORRELATIONS["hour_burst"]["timespan"], CORRELATIONS["bursts_again"]["timespan"] = "334h", "1h"
    try:
        with pytest.raises(SigmaError, match="correlation bursts_again") as caught:
            _yaml_rule(["hour_burst", "bursts_again"])  # the referenced one alone fits
    finally:
        CORRELATIONS["hour_burst"]["timespan"], CORRELATIONS["bursts_again"]["timespan"] = saved
    assert (
        "the chain's timespans 1h + 334h = 335h are too long for a scheduled rule: a run every 1h must read "
        "1h + the chain's timespans + 30m ingestion delay, but Sentinel reads at most 14d. The longest timespan "
        "that fits is 13d22h30m"
    ) in str(caught.value)
