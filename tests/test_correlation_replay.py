"""Correlation rules run on events by replay: sliding windows at their edges, order, group keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from replay_support import REPO, require_engine

EPOCH = datetime(2026, 3, 1, tzinfo=UTC)
BASES = """\
title: Failed
id: 0d0f0000-0000-4000-8000-000000000001
name: failed
status: test
logsource: {product: azure, service: activitylogs}
detection:
    sel: {operationName: MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE, resultType: Failure}
    condition: sel
---
title: Written
id: 0d0f0000-0000-4000-8000-000000000002
name: written
status: test
logsource: {product: azure, service: activitylogs}
detection:
    sel: {operationName: MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE, resultType: Success}
    condition: sel
"""
CORRELATION_ID = "0d0f0000-0000-4000-8000-0000000000c1"


def event(
    name: str, seconds: float, status: str = "Failed", caller: str | None = "alice@contoso.com", **extra: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "$table": "AzureActivity",
        "EventDataId": name,
        "TimeGenerated": (EPOCH + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z"),
        "OperationNameValue": "Microsoft.Authorization/roleAssignments/write",
        "ActivityStatusValue": status,
        **extra,
    }
    if caller is not None:
        row["Caller"] = caller
    return row


def alerts(correlation: str, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """(group keys, window start and end in seconds, metric, event ids) of each alert."""
    require_engine()
    from sigma_azure_aks.replay import replay

    rule = f"title: Correlation\nid: {CORRELATION_ID}\nstatus: test\ncorrelation:\n" + "".join(
        f"    {line}\n" for line in correlation.strip().splitlines()
    )
    result = replay(BASES + "---\n" + rule, rows, every_window=True)
    assert not result.failures, result.failures
    [hit] = [h for h in result.hits if h.rule_id == CORRELATION_ID]
    assert sorted(result[CORRELATION_ID]) == sorted({i for a in hit.alerts for i in a.event_ids})
    return [
        (
            tuple(alert.groups.values()),
            (alert.window_start.replace(tzinfo=UTC) - EPOCH).total_seconds(),
            (alert.window_end.replace(tzinfo=UTC) - EPOCH).total_seconds(),
            alert.metric,
            tuple(alert.event_ids),
        )
        for alert in hit.alerts
    ]


COUNT_3_IN_10M = """
type: event_count
rules: [failed]
group-by: [caller]
timespan: 10m
condition: {gte: 3}
"""


def test_events_exactly_timespan_apart_are_in_one_window() -> None:
    rows = [event("a", 0), event("b", 300), event("c", 600)]
    assert alerts(COUNT_3_IN_10M, rows) == [(("alice@contoso.com",), 0, 600, 3, ("a", "b", "c"))]


def test_one_tick_more_than_timespan_is_two_windows() -> None:
    rows = [event("a", 0), event("b", 300), event("c", 600.000001)]
    assert alerts(COUNT_3_IN_10M, rows) == []


def test_a_bin_edge_does_not_split_a_window() -> None:
    """9:58, 10:01, 10:03 with a 10-minute timespan: bin(TimeGenerated, 10m) would split them."""
    rows = [event("a", 598), event("b", 601), event("c", 603)]
    assert alerts(COUNT_3_IN_10M, rows) == [(("alice@contoso.com",), 3, 603, 3, ("a", "b", "c"))]


def test_out_of_order_rows_count_by_their_time() -> None:
    rows = [event("c", 603), event("a", 598), event("d", 2000), event("b", 601)]
    assert alerts(COUNT_3_IN_10M, rows) == [(("alice@contoso.com",), 3, 603, 3, ("a", "b", "c"))]


def test_every_window_end_is_an_alert() -> None:
    rows = [event(name, 60 * i) for i, name in enumerate("abcd")]
    assert [a[2:4] for a in alerts(COUNT_3_IN_10M, rows)] == [(120, 3), (180, 4)]


def test_group_values_compare_case_insensitively_and_absent_or_empty_is_no_group() -> None:
    rows = [
        event("a", 0, caller="Alice@Contoso.com"),
        event("b", 10, caller="alice@contoso.com"),
        event("c", 20, caller="ALICE@CONTOSO.COM"),
        event("d", 30, caller=None),
        event("e", 40, caller=""),
        event("f", 50, caller=None),
    ]
    assert alerts(COUNT_3_IN_10M, rows) == [(("alice@contoso.com",), -580, 20, 3, ("a", "b", "c"))]


def test_no_group_by_counts_every_event_together() -> None:
    rows = [event("a", 0, caller="x"), event("b", 10, caller="y"), event("c", 20, caller=None)]
    assert alerts(COUNT_3_IN_10M.replace("group-by: [caller]\n", ""), rows) == [
        ((), -580, 20, 3, ("a", "b", "c"))
    ]


def test_group_by_a_dynamic_member() -> None:
    rows = [event(n, i, Properties_d={"message": "M" if i % 2 else "m"}) for i, n in enumerate("abc")]
    rows.append(event("d", 5, Properties_d={"other": 1}))
    found = alerts(COUNT_3_IN_10M.replace("[caller]", "[properties.message]"), rows)
    assert found == [(("m",), -598, 2, 3, ("a", "b", "c"))]


ORDERED = """
type: temporal_ordered
rules: [failed, written]
group-by: [caller]
timespan: 10m
"""


def test_temporal_ordered_needs_the_order() -> None:
    assert alerts(ORDERED, [event("w", 0, "Succeeded"), event("f", 60)]) == []
    assert alerts(ORDERED, [event("f", 0), event("w", 600, "Succeeded")]) == [
        (("alice@contoso.com",), 0, 600, 2, ("f", "w"))
    ]


def test_temporal_ordered_same_time_is_not_an_order() -> None:
    assert alerts(ORDERED, [event("f", 0), event("w", 0, "Succeeded")]) == []


def test_temporal_in_any_order() -> None:
    temporal = ORDERED.replace("temporal_ordered", "temporal")
    assert alerts(temporal, [event("w", 0, "Succeeded"), event("f", 60)]) == [
        (("alice@contoso.com",), -540, 60, 2, ("f", "w"))
    ]


def test_value_count_ignores_case_and_absent_values() -> None:
    correlation = COUNT_3_IN_10M.replace("event_count", "value_count").replace(
        "{gte: 3}", "{gte: 2, field: resourceId}"
    )
    rows = [event("a", 0, _ResourceId="/R1"), event("b", 1, _ResourceId="/r1"), event("c", 2)]
    assert alerts(correlation, rows) == []
    rows.append(event("d", 3, _ResourceId="/r2"))
    assert alerts(correlation, rows) == [(("alice@contoso.com",), -597, 3, 2, ("a", "b", "c", "d"))]


@pytest.mark.parametrize(
    ("kind", "extra", "metric"),
    [
        ("value_sum", "", 16.0),
        ("value_avg", "", 5.0 + 1 / 3),
        ("value_median", "", 3.0),
        ("value_percentile", ", percentile: 75", 7.0),
    ],
)
def test_numeric_values(kind: str, extra: str, metric: float) -> None:
    correlation = COUNT_3_IN_10M.replace("event_count", kind).replace(
        "{gte: 3}", f"{{gt: 1, field: properties.code{extra}}}"
    )
    rows = [
        event("a", 0, Properties_d={"code": 11}),
        event("b", 1, Properties_d={"code": "2"}),
        event("c", 2, Properties_d={"code": "x"}),
        event("d", 3, Properties_d={"code": 3}),
    ]
    last = alerts(correlation, rows)[-1]
    assert last[2] == 3 and last[3] == pytest.approx(metric) and last[4] == ("a", "b", "d")


def test_project_rules_alert_on_their_scenario() -> None:
    require_engine()
    from sigma_azure_aks.replay import replay

    rows = [event(f"f{i}", 30 * i, caller="mallory@contoso.com") for i in range(5)]
    rows += [event("other", 40, caller="bob@contoso.com")]
    folder = REPO / "rules" / "correlations"
    rules = ["azure_role_assignment_write_failed.yml", "correlation_azure_role_assignment_write_failures.yml"]
    result = replay([folder / name for name in rules], rows)
    assert not result.failures
    assert result["d310673d-8ae2-44c8-95a3-915e2c9390ef"] == ["f0", "f1", "f2", "f3", "f4"]


# ---- alerts as the deployed rule reports them: one per episode of a group ---------------------------
def episodes(correlation: str, rows: list[dict[str, Any]], **options: Any) -> list[Any]:
    require_engine()
    from sigma_azure_aks.replay import replay

    rule = f"title: Correlation\nid: {CORRELATION_ID}\nstatus: test\ncorrelation:\n" + "".join(
        f"    {line}\n" for line in correlation.strip().splitlines()
    )
    result = replay(BASES + "---\n" + rule, rows, **options)
    assert not result.failures, result.failures
    [hit] = [h for h in result.hits if h.rule_id == CORRELATION_ID]
    return hit.alerts


def seconds(value: Any) -> float:
    return (value.replace(tzinfo=UTC) - EPOCH).total_seconds()


def test_overlapping_alerting_windows_are_one_alert_per_group() -> None:
    """Windows end at 120, 600, 660 (each starting before the one before ends): one episode from
    the first window's start to the last one's end, with the highest count; 1,300 (below the
    threshold) and 2,000..2,120 (a second episode) apart; bob's windows are his own."""
    times = [0, 60, 120, 600, 660, 1300, 2000, 2060, 2120]
    rows = [event(f"a{t}", t) for t in times] + [event(f"b{t}", t, caller="bob@contoso.com") for t in (5, 6, 7)]
    found = episodes(COUNT_3_IN_10M, rows)
    assert [
        (a.groups["caller"], seconds(a.window_start), seconds(a.last_window_end), a.windows, a.metric, a.event_total)
        for a in found
    ] == [
        ("bob@contoso.com", -593, 7, 1, 3, 3),
        ("alice@contoso.com", -480, 660, 3, 4, 5),
        ("alice@contoso.com", 1520, 2120, 1, 3, 3),
    ]
    assert found[1].event_ids == ["a0", "a60", "a120", "a600", "a660"]  # by time
    assert seconds(found[1].window_end) == 120 and seconds(found[1].last_window_start) == 60


def test_an_episode_lists_its_earliest_events_and_counts_them_all() -> None:
    rows = [event(f"e{i:03d}", i) for i in range(250)]
    [alert] = episodes(COUNT_3_IN_10M, rows)
    assert alert.windows == 248 and alert.metric == 250 and alert.event_total == 250
    assert alert.event_ids == [f"e{i:03d}" for i in range(100)]
    [every] = [a for a in episodes(COUNT_3_IN_10M, rows, every_window=True) if seconds(a.window_end) == 249]
    assert len(every.event_ids) == 250


def test_an_export_file_is_loaded_by_the_engine_with_the_same_alerts(tmp_path: Any) -> None:
    """A JSON lines export with a correlation: loaded by DuckDB itself (scan=True, as the command
    runs), the same alerts and events as the rows read by the loaders."""
    import json

    require_engine()
    from sigma_azure_aks.replay import replay

    rows = [event(f"e{i}", 45 * i, caller=f"user{i % 3}@contoso.com") for i in range(60)]
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps({**row, "Type": row.pop("$table")}) + "\n" for row in rows))
    rule = f"title: Correlation\nid: {CORRELATION_ID}\nstatus: test\ncorrelation:\n" + "".join(
        f"    {line}\n" for line in COUNT_3_IN_10M.strip().splitlines()
    )
    [read] = [h for h in replay(BASES + "---\n" + rule, [path]).hits if h.rule_id == CORRELATION_ID]
    result = replay(BASES + "---\n" + rule, [path], scan=True)
    [scanned] = [h for h in result.hits if h.rule_id == CORRELATION_ID]
    assert scanned.alerts == read.alerts and len(read.alerts) == 3
    assert [(e.event_id, e.number) for e in scanned.events] == [(e.event_id, e.number) for e in read.events]
    assert len(read.events) == 60
    assert result.event_count == 60


# ---- the one window function replay runs ------------------------------------------------------------
def test_a_running_sum_after_a_sort_is_read_and_other_window_functions_are_refused() -> None:
    from sigma_azure_aks.replay.errors import ReplayQueryError
    from sigma_azure_aks.replay.kql_rewrite import running_sum, statements

    assert running_sum('T | where x == "a|b"\n| sort by a asc, b desc, c\n| extend n = row_cumsum(d)') == (
        'T | where x == "a|b"',
        [("a", True), ("b", False), ("c", True)],
        [("n", "d")],
    )
    assert running_sum("T | sort by a | extend n = row_cumsum(d), m = row_cumsum(e)") == (
        "T",
        [("a", True)],
        [("n", "d"), ("m", "e")],
    )
    assert running_sum("T | sort by a asc | extend n = d + 1") is None
    for refused in (
        "T | sort by a asc | extend p = prev(a)",
        "T | sort by a asc | extend n = row_cumsum(d + 1)",
        "T | sort by a asc | extend n = row_cumsum(d) | where n > 1",
        "T | sort by a asc | extend n = row_cumsum(d), m = e + 1",
        "T | extend n = row_cumsum(d)",
        "T | sort by tolower(a) asc | extend n = row_cumsum(d)",
        "T | serialize | extend n = row_cumsum(d)",
    ):
        with pytest.raises(ReplayQueryError, match="row_cumsum"):
            running_sum(refused)
    assert statements('let a = T | where x == ";";\nlet b = a;\nb | count') == [
        ("a", 'T | where x == ";"'),
        ("b", "a"),
        (None, "b | count"),
    ]


def test_the_running_sum_is_kustos_row_cumsum() -> None:
    """Ties in the sort keys aside, each row's sum is of the rows up to it in the sorted order,
    integers stay integers, and nulls add nothing."""
    require_engine()
    from sigma_azure_aks.replay.engine import Engine
    from sigma_azure_aks.replay.kql_rewrite import running_sum_sql

    engine = Engine()
    engine.con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('b', 1, 5), ('a', 2, 7), ('a', 1, NULL), ('b', 0, -2)) v(g, o, d)")
    sql = running_sum_sql("SELECT * FROM t", [("g", True), ("o", False)], [("n", "d", True), ("m", "o", False)])
    rows = engine.con.execute(f"SELECT g, o, n, typeof(n), m FROM ({sql}) ORDER BY g, o DESC").fetchall()
    assert rows == [
        ("a", 2, 7, "BIGINT", 2.0),
        ("a", 1, 7, "BIGINT", 3.0),
        ("b", 1, 12, "BIGINT", 4.0),
        ("b", 0, 10, "BIGINT", 4.0),
    ]
    engine.close()


# ---- chained correlations: an alert's events without listing every window -----------------------------
CHILD = """\
title: Child
id: 0d0f0000-0000-4000-8000-0000000000d1
name: child
status: test
correlation:
    type: {kind}
    rules: [failed]
    group-by: [caller{extra_group}]
    timespan: 2m
    condition: {condition}
"""
GRANDCHILD = CHILD.replace("0000000000d1", "0000000000d2").replace("name: child", "name: grandchild")
CHAINS = {
    "event_count over event_count": ("event_count", "[child]", "{gte: 2}", "event_count", "{gte: 2}", ""),
    "temporal over event_count and a rule": ("temporal", "[child, written]", "{gte: 2}", "event_count", "{gte: 2}", ""),
    "event_count over value_sum": ("event_count", "[child]", "{gte: 2}", "value_sum", "{gte: 4, field: properties.code}", ""),
    "event_count over value_count by two keys": (
        "event_count", "[child]", "{gte: 1}", "value_count", "{gte: 2, field: resourceId}", ", callerIpAddress"
    ),
    "event_count over event_count over event_count": ("event_count", "[child]", "{gte: 1}", "event_count", "{gte: 1}", ""),
    # a temporal_ordered alert's events are its window's earliest chain (found by as-of joins)
    "event_count over temporal_ordered": ("event_count", "[child]", "{gte: 2}", "temporal_ordered", "{gte: 2}", ""),
    "temporal over temporal_ordered and a rule": (
        "temporal", "[child, written]", "{gte: 2}", "temporal_ordered", "{gte: 2}", ", callerIpAddress"
    ),
    # a temporal_ordered chain of alerts: each window's earliest chain, each alert with its own events
    "temporal_ordered over event_count and a rule": (
        "temporal_ordered", "[child, written]", "{gte: 2}", "event_count", "{gte: 2}", ""
    ),
    "temporal_ordered over a rule and temporal_ordered": (
        "temporal_ordered", "[written, child]", "{gte: 2}", "temporal_ordered", "{gte: 2}", ", callerIpAddress"
    ),
    "event_count over temporal_ordered over event_count": (
        "event_count", "[child]", "{gte: 1}", "temporal_ordered", "{gte: 2}", ""
    ),
}  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_a_chained_alert_lists_the_events_of_its_windows(chain: str, seed: int) -> None:
    """Each alert (episode) of a chain lists the union of its windows' events, as listing every
    window with its events (the pairing form) and joining them per episode gives."""
    import random

    require_engine()
    from sigma_azure_aks.replay import replay
    from sigma_azure_aks.replay.api import _episodes

    kind, rules, condition, child_kind, child_condition, extra_group = CHAINS[chain]
    child = CHILD.format(kind=child_kind, condition=child_condition, extra_group=extra_group)
    if child_kind == "temporal_ordered":
        child = child.replace("rules: [failed]", "rules: [failed, written]")
    documents = [child]
    if chain.count(" over ") == 2:  # the child reads a grandchild, which reads the rule
        documents = [child.replace("rules: [failed", "rules: [grandchild"), GRANDCHILD.format(
            kind="event_count", condition="{gte: 2}", extra_group=extra_group)]  # fmt: skip
    parent = (
        f"title: Parent\nid: {CORRELATION_ID}\nstatus: test\ncorrelation:\n    type: {kind}\n    rules: {rules}\n"
        f"    group-by: [caller]\n    timespan: 10m\n    condition: {condition}\n"
    )
    rng = random.Random(seed)
    rows = [
        event(
            f"e{index:03d}",
            rng.randrange(0, 1800, 15),
            rng.choice(["Failed", "Failed", "Succeeded"]),
            rng.choice(["alice@contoso.com", "bob@contoso.com"]),
            Properties_d={"code": rng.choice([1, 2, "3", "x"])},
            _ResourceId=rng.choice(["/r1", "/r2", "/r3"]),
            CallerIpAddress=rng.choice(["10.0.0.1", "10.0.0.2"]),
        )
        for index in range(80)
    ]
    text = "---\n".join([BASES, *documents, parent])
    found = replay(text, rows)
    windows = replay(text, rows, every_window=True)
    assert not found.failures and not windows.failures, (found.failures, windows.failures)
    [hit] = [h for h in found.hits if h.rule_id == CORRELATION_ID]
    [listed] = [h for h in windows.hits if h.rule_id == CORRELATION_ID]
    plan = type("Plan", (), {"groups": ("caller",)})
    expected = _episodes(plan, sorted(listed.alerts, key=lambda a: (a.groups["caller"], a.window_end)))
    assert expected, "the chain should alert on these events"

    def summary(alerts: list[Any]) -> list[Any]:
        return sorted(
            (a.groups["caller"], a.window_start, a.last_window_end, a.windows, a.metric, a.event_total, set(a.event_ids))
            for a in alerts
        )

    assert summary(hit.alerts) == summary(expected)
