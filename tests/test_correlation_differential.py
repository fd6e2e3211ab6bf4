"""Differential: correlation rules through our KQL on the replay engine vs pySigma-backend-sqlite.

pySigma-backend-sqlite 2.1.1 compiles correlation rules to SQL with sliding windows of its own
(window functions, one alert per group and window end, the events behind each alert). Generated
correlation rules of every type (thresholds at the edge, every operator, one or two group-by
fields, chains), over events with group values absent or in other letter cases, timestamps on a
grid so that many lie exactly `timespan` apart, inserted out of time order. Both sides must give
the same alerts: group keys, window start and end, metric and event ids; zero disagreements.

Not compared (listed, not silent): an empty group or value field (Kusto reads absent and empty as
one thing, SQLite as two; our rule: no group, no value), non-ASCII case folding (SQLite folds
ASCII only), numbers against numeric strings as group keys (SQLite keeps the types apart).
Needs pySigma 2, the sqlite backend and the replay engine; skipped where they are missing.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from replay_support import require_engine

pytest.importorskip("sigma.backends.sqlite", reason="pySigma-backend-sqlite (pySigma 2) not installed")

from sigma.backends.sqlite import sqliteBackend  # noqa: E402
from sigma.collection import SigmaCollection  # noqa: E402
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline  # noqa: E402
from sigma.processing.transformations import FieldMappingTransformation  # noqa: E402

SEED = 20261201
N_RULES = int(os.environ.get("SIGMA_AZURE_AKS_CORRELATION_RULES", "300" if os.environ.get("CI") else "60"))
N_EVENTS = 70
N_BURST_RULES = int(os.environ.get("SIGMA_AZURE_AKS_CORRELATION_BURST_RULES", "40" if os.environ.get("CI") else "16"))
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

# Sigma field -> (AzureActivity placement, SQLite column)
FIELDS = {
    "operationName": ("OperationNameValue", "operationName"),
    "caller": ("Caller", "caller"),
    "callerIpAddress": ("CallerIpAddress", "callerIpAddress"),
    "properties.message": ("Properties_d.message", "properties_message"),
    "properties.code": ("Properties_d.code", "properties_code"),
}
GROUPS = [[], ["caller"], ["caller", "callerIpAddress"], ["properties.message"]]
OPERATIONS = ["alpha/write", "beta/delete", "alphabet/action", "gamma/read"]
BASES = {  # name -> detection item: overlapping, so that one event can match several rules
    "r_alpha": {"operationName|startswith": "alpha"},
    "r_bet": {"operationName|contains": "bet"},
    "r_write": {"operationName|endswith": "write"},
}
CALLERS = ["alice@contoso.com", "ALICE@contoso.com", "Bob@Contoso.com", "bob@contoso.com", "carol"]
IPS = ["10.0.0.1", "10.0.0.2"]
MESSAGES = ["m1", "M1", "m2", "m3", "M4", "m5"]
CODES: list[Any] = [1, 2, 5, "7", 10, "abc", 0, -3, 2.5, "4.5"]
# bursts: now and then 2^36, a number the exact integer sums do not hold (its windows are summed as reals)
BURST_CODES: list[Any] = CODES * 25 + [2**36]
TIMESPANS = {"60s": 60, "2m": 120, "5m": 300, "10m": 600}
COUNT_KINDS = ["event_count", "value_count", "value_sum", "value_avg", "value_median", "value_percentile"]
OPERATORS = ["gt", "gte", "lt", "lte", "eq", "neq"]


def make_events(
    rng: random.Random, count: int = N_EVENTS, slots: int = 40, codes: list[Any] = CODES
) -> list[dict[str, Any]]:
    """`count` events on a grid of `slots` times 30 s apart (every timespan is a multiple of it)."""
    events = []
    for index in range(count):
        event: dict[str, Any] = {"eid": f"e{index:04d}", "ts": rng.randrange(0, slots) * 30}
        event["operationName"] = rng.choice(OPERATIONS)
        for name, values, absent in (
            ("caller", CALLERS, 0.1),
            ("callerIpAddress", IPS, 0.1),
            ("properties.message", MESSAGES, 0.2),
            ("properties.code", codes, 0.2),
        ):
            if rng.random() >= absent:
                event[name] = rng.choice(values)
        events.append(event)
    rng.shuffle(events)  # rows out of time order
    return events


def _threshold(rng: random.Random, kind: str, burst: bool = False) -> Any:
    if burst and kind == "value_sum":
        return rng.choice([0, 50, 300, 700, 1500])
    if kind in {"value_sum", "value_avg", "value_median", "value_percentile"}:
        return rng.choice([0, 1, 2, 2.5, 3, 4, 5, 7, 10, 15])
    if burst and kind == "event_count":
        return rng.choice([1, 40, 80, 120, 160, 200, 300])
    return rng.randint(0, 4)


def make_rule(rng: random.Random, index: int, kinds: list[str] | None = None) -> tuple[str, list[str]]:
    """(YAML of the correlation, and of any correlation it chains), with its group-by. `kinds`
    (default: every type, numeric ones and chains included) to choose from; event_count thresholds
    reach hundreds when `kinds` is given (bursts)."""
    burst = kinds is not None
    kind = rng.choice(
        kinds or [*COUNT_KINDS, "temporal", "temporal", "temporal_ordered", "temporal_ordered", "chain"]
    )
    group = rng.choice(GROUPS)
    span = rng.choice(list(TIMESPANS))
    documents = []
    body: dict[str, Any] = {"timespan": span}
    if group:
        body["group-by"] = group
    if kind in COUNT_KINDS:
        body["type"] = kind
        body["rules"] = rng.sample(list(BASES), rng.randint(1, 2))
        condition: dict[str, Any] = {rng.choice(OPERATORS): _threshold(rng, kind, burst)}
        if kind != "event_count":
            condition["field"] = "properties.message" if kind == "value_count" else "properties.code"
        if kind == "value_percentile":
            condition["percentile"] = rng.choice([0, 25, 50, 90, 100])
        body["condition"] = condition
    elif kind in {"temporal", "temporal_ordered"}:
        body["type"] = kind
        # bursts: two rules (the sqlite backend's ordered windows cost grows steeply with rules)
        body["rules"] = rng.sample(list(BASES), 2 if burst else rng.randint(2, 3))
    else:
        child = {
            "title": f"child {index}",
            "id": f"00000000-0000-4000-9000-{index:012d}",
            "name": f"child_{index}",
            "status": "test",
            "correlation": {
                "type": "event_count",
                "rules": [rng.choice(list(BASES))],
                "timespan": rng.choice(list(TIMESPANS)),
                "condition": {"gte": rng.choice([40, 80, 120]) if burst else rng.randint(1, 3)},
                **({"group-by": group} if group else {}),
            },
        }
        documents.append(json.dumps(child))
        body["type"] = "temporal_ordered"
        body["rules"] = [f"child_{index}", rng.choice(list(BASES))]
        rng.shuffle(body["rules"])
    rule = {
        "title": f"correlation {index}",
        "id": f"00000000-0000-4000-8000-{index:012d}",
        "status": "test",
        "correlation": body,
    }
    return "\n---\n".join([*documents, json.dumps(rule)]), group


def base_rules() -> str:
    return "\n---\n".join(
        json.dumps(
            {
                "title": name,
                "id": f"00000000-0000-4000-a000-{number:012d}",
                "name": name,
                "status": "test",
                "logsource": {"product": "azure", "service": "activitylogs"},
                "detection": {"sel": item, "condition": "sel"},
            }
        )
        for number, (name, item) in enumerate(BASES.items())
    )


def kusto_row(event: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "EventDataId": event["eid"],
        "TimeGenerated": (EPOCH + timedelta(seconds=event["ts"])).isoformat().replace("+00:00", "Z"),
    }
    props = {}
    for name, value in event.items():
        if name in FIELDS:
            column = FIELDS[name][0]
            if column.startswith("Properties_d."):
                props[column.split(".", 1)[1]] = value
            else:
                row[column] = value
    if props:
        row["Properties_d"] = props
    return row


def sqlite_alerts(events: list[dict[str, Any]], documents: str, group: list[str]) -> set[Any]:
    con = sqlite3.connect(":memory:")
    columns = ", ".join(
        f'"{sql}" NUMERIC' if sql == "properties_code" else f'"{sql}" TEXT COLLATE NOCASE'
        for _, sql in FIELDS.values()
    )
    con.execute(f"CREATE TABLE logs (eid TEXT, ts INTEGER, {columns})")
    for event in events:
        values = [event.get(name) for name in FIELDS]
        con.execute(
            f"INSERT INTO logs VALUES ({', '.join('?' * (len(FIELDS) + 2))})",
            [event["eid"], event["ts"], *values],
        )
    mapping = {name: sql for name, (_, sql) in FIELDS.items()}
    pipeline = ProcessingPipeline(
        name="flat",
        priority=20,
        items=[ProcessingItem(identifier="flat", transformation=FieldMappingTransformation(mapping))],
    )
    backend = sqliteBackend(
        pipeline, table="logs", timestamp_field="ts", timestamp_format="unix", event_id_field="eid"
    )
    outputs = backend.convert(SigmaCollection.from_yaml(base_rules() + "\n---\n" + documents))
    [sql] = [query for query in outputs if query.startswith("WITH ")]  # bases no rule reads: plain queries
    alerts = set()
    for row in con.execute(sql):
        _, keys, _, start, end, _, metric, _, ids, _ = row
        keys = json.loads(keys)
        groups = tuple(str(keys.get(mapping[name], keys.get(name))) for name in group)
        evidence = frozenset(i.split(":", 1)[1] for i in json.loads(ids))
        alerts.add((groups, int(start), int(end), _metric(metric), evidence))
    return alerts


def _metric(value: Any) -> Any:
    return None if value is None else round(float(value), 9)


def ours_alerts(result: Any, rule_id: str, group: list[str]) -> set[Any]:
    from sigma_azure_aks.correlation import column_name

    [hit] = [h for h in result.hits if h.rule_id == rule_id]
    return {
        (
            tuple(str(alert.groups[column_name(name)]) for name in group),
            int((alert.window_start.replace(tzinfo=UTC) - EPOCH).total_seconds()),
            int((alert.window_end.replace(tzinfo=UTC) - EPOCH).total_seconds()),
            _metric(alert.metric),
            frozenset(alert.event_ids),
        )
        for alert in hit.alerts
    }


@pytest.mark.slow
def test_generated_correlations_agree_with_sqlite_backend(report: Any) -> None:
    rng = random.Random(SEED)
    events = make_events(rng)
    rules = [make_rule(rng, index) for index in range(N_RULES)]
    compare(events, rules, report, "correlation differential")


def test_bursts_agree_with_sqlite_backend(report: Any) -> None:
    """Bursts: 500 events in 10 minutes over a few groups (hundreds per group and window), many
    at the same time (21 times on a 30 s grid) and many exactly one timespan apart; numeric,
    non-numeric and absent values mixed, a few too large for the exact sums."""
    rng = random.Random(SEED + 1)
    events = make_events(rng, count=500, slots=21, codes=BURST_CODES)
    kinds = ["event_count", "event_count", "value_count", "temporal", "temporal_ordered", "chain"]
    kinds += ["value_sum", "value_sum", "value_avg", "value_avg", "value_median", "value_percentile"]
    rules = [make_rule(rng, index, kinds) for index in range(N_BURST_RULES)]
    compare(events, rules, report, "correlation differential, bursts")


def compare(events: list[dict[str, Any]], rules: list[tuple[str, list[str]]], report: Any, name: str) -> None:
    """Our alerts (every window, with its events) against the sqlite backend's, rule by rule."""
    require_engine()
    from sigma_azure_aks.replay import replay

    started = time.monotonic()
    result = replay(
        [base_rules() + "\n---\n" + "\n---\n".join(d for d, _ in rules)],
        [kusto_row(e) for e in events],
        every_window=True,
    )
    assert not result.failures, result.failures[:3]
    pairs = alerts = 0
    disagreements = []
    kinds: dict[str, int] = {}
    for index, (documents, group) in enumerate(rules):
        rule_id = f"00000000-0000-4000-8000-{index:012d}"
        mine = ours_alerts(result, rule_id, group)
        theirs = sqlite_alerts(events, documents, group)
        kind = json.loads(documents.split("\n---\n")[-1])["correlation"]["type"]
        kind += " over a correlation" if "\n---\n" in documents else ""
        kinds[kind] = kinds.get(kind, 0) + 1
        pairs += 1
        alerts += len(theirs)
        if mine != theirs:
            disagreements.append((documents, sorted(mine - theirs)[:3], sorted(theirs - mine)[:3]))
    elapsed = time.monotonic() - started
    report(
        f"{name}: {pairs} correlation rules ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}) "
        f"on {len(events)} events, {alerts} alerts compared (group keys, window, metric, event ids), "
        f"{len(disagreements)} disagreements, {elapsed:.1f} s"
    )
    for documents, only_ours, only_theirs in disagreements[:5]:
        print(f"RULE {documents}\nonly ours {only_ours}\nonly sqlite {only_theirs}\n")
    assert alerts > 0
    assert not disagreements
