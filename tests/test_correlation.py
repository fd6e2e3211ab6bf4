"""Correlation rules on the `sentinel` target: the KQL per type (exact text), what cannot be
expressed (clear errors), the analytics rule around it, and Microsoft's parser on every query."""

from __future__ import annotations

import json
import textwrap
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.correlation import plan_of

REPO = Path(__file__).resolve().parent.parent

BASES = """\
title: Role write failed
id: 0c0f0000-0000-4000-8000-000000000001
name: failed
status: test
logsource: {product: azure, service: activitylogs}
detection:
    sel: {operationName: MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE, resultType: Failure}
    condition: sel
---
title: Role write
id: 0c0f0000-0000-4000-8000-000000000002
name: written
status: test
logsource: {product: azure, service: activitylogs}
detection:
    sel: {operationName: MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE, resultType: Success}
    condition: sel
---
title: Secret get
id: 0c0f0000-0000-4000-8000-000000000003
name: secret_get
status: test
logsource: {product: kubernetes, service: audit}
detection:
    sel: {verb: get, objectRef.resource: secrets}
    condition: sel
"""

FAILED_EVENTS = (
    "let sigma_events = AzureActivity\n"
    '| where OperationNameValue =~ "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE" and '
    '(ActivityStatusValue in~ ("Failure", "Failed"))\n'
)


def correlation(
    body: str, title: str = "Correlation", rule_id: str = "0c0f0000-0000-4000-8000-0000000000c1"
) -> str:
    block = textwrap.indent(textwrap.dedent(body).strip("\n"), "    ")
    return f"title: {title}\nid: {rule_id}\nstatus: test\nlevel: high\ncorrelation:\n{block}\n"


def convert(*documents: str, output_format: str = "default", **options: Any) -> list[Any]:
    """The correlation rules' outputs (the base rules no correlation reads are left out)."""
    return converted(*documents, output_format=output_format, **options)[0]


def converted(*documents: str, output_format: str = "default", **options: Any) -> tuple[list[Any], Any]:
    """(the outputs, as `convert` gives them; the converted collection)."""
    collection = SigmaCollection.from_yaml("---\n".join([BASES, *documents]))
    backend = SentinelBackend(**options)
    backend.init_processing_pipeline(output_format)
    collection.resolve_rule_references()
    outputs = []
    for rule in collection.rules:
        if rule.title in {"Role write failed", "Role write", "Secret get"} and not rule._backreferences:
            continue
        if isinstance(rule, SigmaCorrelationRule):
            converted = backend.convert_correlation_rule(rule, output_format)
            outputs += converted if rule._output else []
        else:
            outputs += backend.convert_rule(rule, output_format)
    return outputs, collection


def one(body: str) -> str:
    [query] = convert(correlation(body))
    return query


def test_event_count_exact_query() -> None:
    query = one(
        """
        type: event_count
        rules: [failed]
        group-by: [caller]
        timespan: 10m
        condition: {gte: 5}
        """
    )
    assert query == FAILED_EVENTS + (
        '| project sigma_time = TimeGenerated, sigma_event = tostring(EventDataId), sigma_rule = "failed", '
        "caller = tolower(tostring(Caller))\n"
        "| where isnotnull(sigma_time) and isnotempty(caller);\n"
        "let sigma_counts = sigma_events\n"
        "| distinct caller, sigma_time, sigma_event\n"
        "| summarize sigma_delta = count() by caller, sigma_time;\n"
        "let sigma_swept = union\n"
        "(sigma_counts | project caller, sigma_time, sigma_kind = 0, sigma_delta),\n"
        "(sigma_counts | project caller, sigma_time = sigma_time + 10m, sigma_kind = 2, sigma_delta = -sigma_delta),\n"
        "(sigma_events | distinct caller, sigma_time | project caller, sigma_time, sigma_kind = 1, "
        "sigma_delta = long(0))\n"
        "| sort by caller asc, sigma_time asc, sigma_kind asc\n"
        "| extend sigma_total = row_cumsum(sigma_delta);\n"
        "sigma_swept\n"
        "| where sigma_kind == 1\n"
        "| project caller, window_start = sigma_time - 10m, window_end = sigma_time, event_count = sigma_total\n"
        "| where event_count >= 5"
    )
    assert "join" not in query  # no pairing of events: a sort and a running sum


def test_value_count_counts_distinct_non_empty_values() -> None:
    query = one(
        """
        type: value_count
        rules: [failed]
        group-by: [caller]
        timespan: 1h
        condition: {gt: 3, field: resourceId}
        """
    )
    assert "sigma_value = tolower(tostring(_ResourceId))" in query
    assert query.endswith(
        "let sigma_values = sigma_events\n"
        "| where isnotempty(sigma_value)\n"
        "| project caller, sigma_item = sigma_value, sigma_time\n"
        "| distinct caller, sigma_item, sigma_time;\n"
        "let sigma_cover = union\n"
        "(sigma_values | project caller, sigma_item, sigma_time, sigma_kind = 0, sigma_delta = long(1)),\n"
        "(sigma_values | project caller, sigma_item, sigma_time = sigma_time + 1h, sigma_kind = 2, "
        "sigma_delta = long(-1))\n"
        "| sort by caller asc, sigma_item asc, sigma_time asc, sigma_kind asc\n"
        "| extend sigma_present = row_cumsum(sigma_delta);\n"
        "let sigma_swept = union\n"
        "(sigma_cover\n"
        "    | where (sigma_kind == 0 and sigma_present == 1) or (sigma_kind == 2 and sigma_present == 0)\n"
        "    | project caller, sigma_time, sigma_kind, sigma_delta),\n"
        "(sigma_events | distinct caller, sigma_time | project caller, sigma_time, sigma_kind = 1, "
        "sigma_delta = long(0))\n"
        "| sort by caller asc, sigma_time asc, sigma_kind asc\n"
        "| extend sigma_total = row_cumsum(sigma_delta);\n"
        "sigma_swept\n"
        "| where sigma_kind == 1\n"
        "| project caller, window_start = sigma_time - 1h, window_end = sigma_time, value_count = sigma_total\n"
        "| where value_count > 3"
    )


def test_value_sum_sweeps_exact_integers_and_pairs_only_inexact_windows() -> None:
    query = one(
        """
        type: value_sum
        rules: [failed, written]
        group-by: [caller]
        timespan: 1d
        condition: {gte: 100, field: properties.code}
        """
    )
    assert "sigma_value = toreal(tostring(Properties_d.code))" in query
    assert query.endswith(
        "let sigma_numbers = sigma_events\n"
        "| where isnotnull(sigma_value)\n"
        "| distinct caller, sigma_time, sigma_event, sigma_value;\n"
        "let sigma_parts = sigma_numbers\n"
        "| extend sigma_whole = floor(sigma_value, 1)\n"
        "| extend sigma_r1 = (sigma_value - sigma_whole) * 1048576\n"
        "| extend sigma_f1 = floor(sigma_r1, 1)\n"
        "| extend sigma_r2 = (sigma_r1 - sigma_f1) * 1048576\n"
        "| extend sigma_f2 = floor(sigma_r2, 1)\n"
        "| extend sigma_r3 = (sigma_r2 - sigma_f2) * 1048576\n"
        "| extend sigma_f3 = floor(sigma_r3, 1)\n"
        "| extend sigma_r4 = (sigma_r3 - sigma_f3) * 1048576\n"
        "| extend sigma_f4 = floor(sigma_r4, 1)\n"
        "| extend sigma_exact = abs(sigma_value) < 68719476736 and sigma_r4 == sigma_f4\n"
        "| summarize sigma_count = count(), sigma_inexact = countif(not(sigma_exact)), sigma_whole = "
        "sum(iff(sigma_exact, tolong(sigma_whole), long(0))), sigma_f1 = sum(iff(sigma_exact, "
        "tolong(sigma_f1), long(0))), sigma_f2 = sum(iff(sigma_exact, tolong(sigma_f2), long(0))), sigma_f3 "
        "= sum(iff(sigma_exact, tolong(sigma_f3), long(0))), sigma_f4 = sum(iff(sigma_exact, "
        "tolong(sigma_f4), long(0))) by caller, sigma_time;\n"
        "let sigma_swept = union\n"
        "(sigma_parts | project caller, sigma_time, sigma_kind = 0, sigma_count, sigma_inexact, sigma_whole, "
        "sigma_f1, sigma_f2, sigma_f3, sigma_f4),\n"
        "(sigma_parts | project caller, sigma_time = sigma_time + 1d, sigma_kind = 2, sigma_count = "
        "-sigma_count, sigma_inexact = -sigma_inexact, sigma_whole = -sigma_whole, sigma_f1 = -sigma_f1, "
        "sigma_f2 = -sigma_f2, sigma_f3 = -sigma_f3, sigma_f4 = -sigma_f4),\n"
        "(sigma_events | distinct caller, sigma_time | project caller, sigma_time, sigma_kind = 1, "
        "sigma_count = long(0), sigma_inexact = long(0), sigma_whole = long(0), sigma_f1 = long(0), sigma_f2 "
        "= long(0), sigma_f3 = long(0), sigma_f4 = long(0))\n"
        "| sort by caller asc, sigma_time asc, sigma_kind asc\n"
        "| extend sigma_count_in = row_cumsum(sigma_count), sigma_inexact_in = row_cumsum(sigma_inexact), "
        "sigma_whole_in = row_cumsum(sigma_whole), sigma_f1_in = row_cumsum(sigma_f1), sigma_f2_in = "
        "row_cumsum(sigma_f2), sigma_f3_in = row_cumsum(sigma_f3), sigma_f4_in = row_cumsum(sigma_f4);\n"
        "let sigma_numeric = sigma_swept\n"
        "| where sigma_kind == 1 and sigma_count_in > 0\n"
        "| project caller, window_start = sigma_time - 1d, window_end = sigma_time, sigma_count = "
        "sigma_count_in, sigma_inexact = sigma_inexact_in, sigma_whole = sigma_whole_in, sigma_f1 = "
        "sigma_f1_in, sigma_f2 = sigma_f2_in, sigma_f3 = sigma_f3_in, sigma_f4 = sigma_f4_in;\n"
        "let sigma_alerting = union\n"
        "(sigma_numeric\n"
        "| where sigma_inexact == 0 and sigma_count < 33554432\n"
        "| extend sigma_g0 = sigma_whole - 100, sigma_g1 = sigma_f1, sigma_g2 = sigma_f2, sigma_g3 = "
        "sigma_f3, sigma_g4 = sigma_f4\n"
        "| extend sigma_m4 = sigma_g4 - tolong(floor(sigma_g4 / 1048576.0, 1)) * 1048576, sigma_h3 = "
        "sigma_g3 + tolong(floor(sigma_g4 / 1048576.0, 1))\n"
        "| extend sigma_m3 = sigma_h3 - tolong(floor(sigma_h3 / 1048576.0, 1)) * 1048576, sigma_h2 = "
        "sigma_g2 + tolong(floor(sigma_h3 / 1048576.0, 1))\n"
        "| extend sigma_m2 = sigma_h2 - tolong(floor(sigma_h2 / 1048576.0, 1)) * 1048576, sigma_h1 = "
        "sigma_g1 + tolong(floor(sigma_h2 / 1048576.0, 1))\n"
        "| extend sigma_m1 = sigma_h1 - tolong(floor(sigma_h1 / 1048576.0, 1)) * 1048576, sigma_h0 = "
        "sigma_g0 + tolong(floor(sigma_h1 / 1048576.0, 1))\n"
        "| extend sigma_order = iff(sigma_h0 > 0, 1, iff(sigma_h0 < 0, -1, iff(sigma_m1 + sigma_m2 + "
        "sigma_m3 + sigma_m4 > 0, 1, 0)))\n"
        "| where sigma_order >= 0\n"
        "| project caller, window_start, window_end, value_sum = (toreal(sigma_whole) + toreal(sigma_f1) / "
        "1048576.0 + toreal(sigma_f2) / 1099511627776.0 + toreal(sigma_f3) / 1.152921504606847e+18 + "
        "toreal(sigma_f4) / 1.2089258196146292e+24)),\n"
        "(sigma_numeric\n"
        "    | where sigma_inexact > 0 or sigma_count >= 33554432\n"
        "    | project caller, window_start, window_end\n"
        "| extend sigma_bin = pack_array(bin(window_start, 1d), bin(window_end, 1d))\n"
        "| mv-expand sigma_bin to typeof(datetime)\n"
        "| join kind=inner (sigma_numbers\n"
        "    | extend sigma_bin = bin(sigma_time, 1d)) on caller, sigma_bin\n"
        "| where sigma_time between (window_start .. window_end)\n"
        "| summarize value_sum = sum(sigma_value) by caller, window_start, window_end\n"
        "| where value_sum >= 100);\n"
        "sigma_alerting"
    )


def test_value_avg_compares_the_sum_with_threshold_times_count() -> None:
    query = one(
        """
        type: value_avg
        rules: [failed]
        group-by: [caller]
        timespan: 10m
        condition: {lt: 3, field: properties.code}
        """
    )
    assert (
        "| extend sigma_g0 = sigma_whole - 3 * sigma_count, sigma_g1 = sigma_f1, sigma_g2 = sigma_f2, "
        "sigma_g3 = sigma_f3, sigma_g4 = sigma_f4\n"
    ) in query
    assert (
        "| extend sigma_order = iff(sigma_h0 > 0, 1, iff(sigma_h0 < 0, -1, iff(sigma_m1 + sigma_m2 + "
        "sigma_m3 + sigma_m4 > 0, 1, 0)))\n"
        "| where sigma_order < 0\n"
        "| project caller, window_start, window_end, value_avg = (toreal(sigma_whole) + toreal(sigma_f1) / "
        "1048576.0 + toreal(sigma_f2) / 1099511627776.0 + toreal(sigma_f3) / 1.152921504606847e+18 + "
        "toreal(sigma_f4) / 1.2089258196146292e+24) / sigma_count),\n"
    ) in query
    assert "| summarize value_avg = avg(sigma_value) by caller, window_start, window_end\n| where value_avg < 3);" in query


@pytest.mark.parametrize(
    ("kind", "operator", "threshold", "expected"),
    [
        # 1e-10 * 2^80 = 120892581961462.9...: a sum on the 2^-80 grid is >= 1e-10 iff >= 120892581961463 * 2^-80
        ("value_sum", ">=", 1e-10, (">=", 120892581961463)),
        ("value_sum", ">", 1e-10, (">", 120892581961462)),
        ("value_sum", "<=", 1e-10, ("<=", 120892581961462)),
        ("value_sum", "<", 1e-10, ("<", 120892581961463)),
        ("value_sum", "==", 1e-10, False),  # no sum on the grid equals 1e-10
        ("value_sum", "!=", 1e-10, True),
        ("value_sum", "==", 2.5, ("==", 5 << 79)),
        ("value_sum", ">=", 0.3, (">=", int(Fraction(0.3) * 2**80))),  # every double from 2^-28 is on the grid
        ("value_sum", ">", -1e30, (">", -(1 << 141))),  # beyond every exact sum (|sum| < 2^61)
        ("value_avg", "<", 1e30, ("<", 1 << 116)),  # beyond every exact average (|avg| < 2^36)
    ],
)
def test_thresholds_map_to_the_integer_grid_without_changing_any_outcome(
    kind: str, operator: str, threshold: float, expected: Any
) -> None:
    from types import SimpleNamespace

    from sigma_azure_aks.correlation_sums import scaled_threshold

    assert scaled_threshold(SimpleNamespace(kind=kind, operator=operator, threshold=threshold)) == expected


def test_value_avg_off_the_grid_keeps_the_pairing_form() -> None:
    from types import SimpleNamespace

    from sigma_azure_aks.correlation_windows import is_swept

    assert not is_swept(SimpleNamespace(kind="value_avg", threshold=1e-10))
    assert is_swept(SimpleNamespace(kind="value_avg", threshold=0.3))
    assert is_swept(SimpleNamespace(kind="value_sum", threshold=1e-10))
    assert is_swept(SimpleNamespace(kind="value_median", threshold=1.0))  # decided by counts (test_correlation_ranks)


def test_value_percentile_decided_by_counts_and_the_values_around_the_threshold() -> None:
    query = one(
        """
        type: value_percentile
        rules: [failed]
        timespan: 90s
        condition: {gt: 100, field: properties.code, percentile: 90}
        """
    )
    # a NaN has no rank; each time enters with its counts below and at the threshold, its greatest
    # value below it and least above it
    assert (
        "let sigma_numbers = sigma_events\n| where isnotnull(sigma_value) and not(isnan(sigma_value))\n"
        "| distinct sigma_time, sigma_event, sigma_value;\n"
        "let sigma_ranks = sigma_numbers\n"
        "| summarize sigma_count = count(), sigma_below = countif(sigma_value < 100), sigma_at = "
        "countif(sigma_value == 100), sigma_low_max = max(iff(sigma_value < 100, sigma_value, real(null))), "
        "sigma_high_min = min(iff(sigma_value > 100, sigma_value, real(null))) by sigma_time;\n"
    ) in query
    # the rank (n - 1) * 90 / 100 in integers; counts decide every window but one whose ranks
    # straddle the threshold
    assert (
        "| extend sigma_lo = (sigma_n - 1) * 90 / 100, sigma_part = (sigma_n - 1) * 90 % 100\n"
        "| extend sigma_sign = case(sigma_part == 0 and sigma_lo < sigma_m, -1, sigma_part == 0 and "
        "sigma_lo < sigma_k, 0, sigma_part == 0, 1, sigma_lo + 1 < sigma_m, -1, sigma_lo >= sigma_k, 1, "
        "sigma_lo >= sigma_m and sigma_lo + 1 < sigma_k, 0, sigma_lo + 1 == sigma_m and sigma_m < sigma_k, -1, "
        "sigma_lo >= sigma_m, 1, int(null));\n"
    ) in query
    assert "| where isnotnull(sigma_sign) and sigma_sign > 0\n| project window_start, window_end)," in query
    # those read the two values from the blocks of each level: the first and last inside the window
    assert (
        "| extend sigma_first_block = binary_shift_right(sigma_last - sigma_rows + binary_shift_left(1, "
        "sigma_level) - 1, sigma_level), sigma_last_block = binary_shift_right(sigma_last, sigma_level) - 1\n"
        "| where sigma_first_block <= sigma_last_block\n"
        "| extend sigma_block = pack_array(sigma_first_block, sigma_last_block)\n"
        "| mv-expand sigma_block to typeof(long)\n"
        "| join kind=inner (sigma_blocks) on sigma_level, sigma_block\n"
        "| summarize sigma_below_max = max(sigma_low_max), sigma_above_min = min(sigma_high_min) by "
        "window_start, window_end, sigma_part\n"
        "| where sigma_below_max * (100 - sigma_part) + sigma_above_min * sigma_part > 10000\n"
    ) in query
    # the metric of each run's first window, from its values
    assert query.endswith(
        "| summarize sigma_values = make_list(sigma_value) by window_start, window_end\n"
        "| extend sigma_values = array_sort_asc(sigma_values)\n"
        "| extend sigma_rank = (array_length(sigma_values) - 1) * 90\n"
        "| extend sigma_low = toint(sigma_rank / 100)\n"
        "| extend value_percentile = toreal(sigma_values[sigma_low]) * (1 - (sigma_rank % 100) / 100.0) + "
        "iff(sigma_low + 1 < array_length(sigma_values), toreal(sigma_values[sigma_low + 1]) * "
        "((sigma_rank % 100) / 100.0), 0.0)\n"
        "| project window_start, window_end, value_percentile) on window_start, window_end\n"
        "| project window_start, window_end, value_percentile"
    )
    assert "bin(window_start, 90s)" in query  # no group-by: the time bucket is the only join key
    assert "| join kind=inner (sigma_numbers\n    | extend sigma_bin = bin(sigma_time, 90s)) on sigma_bin\n" in query


def test_temporal_counts_distinct_rules() -> None:
    query = one(
        """
        type: temporal
        rules: [failed, written]
        group-by: [caller]
        timespan: 30m
        """
    )
    assert query.startswith("let sigma_events = union\n(AzureActivity\n")
    assert (
        '| project sigma_time = TimeGenerated, sigma_event = tostring(EventDataId), sigma_rule = "written"'
        in query
    )
    assert (
        "let sigma_values = sigma_events\n| where isnotempty(sigma_rule)\n"
        "| project caller, sigma_item = sigma_rule, sigma_time\n"
    ) in query
    assert query.endswith(
        "| project caller, window_start = sigma_time - 30m, window_end = sigma_time, rule_count = sigma_total\n"
        "| where rule_count >= 2"
    )


def test_temporal_ordered_takes_each_rule_strictly_after_the_one_before() -> None:
    query = one(
        """
        type: temporal_ordered
        rules: [failed, written]
        group-by: [caller]
        timespan: 30m
        """
    )
    assert query.endswith(
        'let sigma_chain_1 = sigma_events | where sigma_rule == "failed" | distinct caller, sigma_time '
        "| extend sigma_start = sigma_time;\n"
        "let sigma_chain_2_sweep = union\n"
        "(sigma_chain_1 | project caller, sigma_time, sigma_start, sigma_kind = 1, sigma_delta = long(1)),\n"
        '(sigma_events | where sigma_rule == "written" | distinct caller, sigma_time | project caller, sigma_time, '
        "sigma_start = datetime(null), sigma_kind = 0, sigma_delta = long(0))\n"
        "| sort by caller asc, sigma_time asc, sigma_kind asc\n"
        "| extend sigma_seen = row_cumsum(sigma_delta);\n"
        "let sigma_chain_2 = sigma_chain_2_sweep\n"
        "| where sigma_kind == 0 and sigma_seen > 0\n"
        "| join kind=inner (sigma_chain_2_sweep | where sigma_kind == 1 | project caller, sigma_seen, "
        "sigma_from = sigma_start) on caller, sigma_seen\n"
        "| project caller, sigma_time, sigma_start = sigma_from;\n"
        "let sigma_chained_sweep = union\n"
        "(sigma_chain_2 | project caller, sigma_time, sigma_start, sigma_kind = 0, sigma_delta = long(1)),\n"
        "(sigma_events | distinct caller, sigma_time | project caller, sigma_time, sigma_start = datetime(null), "
        "sigma_kind = 1, sigma_delta = long(0))\n"
        "| sort by caller asc, sigma_time asc, sigma_kind asc\n"
        "| extend sigma_seen = row_cumsum(sigma_delta);\n"
        "let sigma_chained = sigma_chained_sweep\n"
        "| where sigma_kind == 1 and sigma_seen > 0\n"
        "| join kind=inner (sigma_chained_sweep | where sigma_kind == 0 | project caller, sigma_seen, "
        "sigma_from = sigma_start) on caller, sigma_seen\n"
        "| project caller, sigma_time, sigma_start = sigma_from;\n"
        "sigma_chained\n"
        "| where sigma_start >= sigma_time - 30m\n"
        "| project caller, window_start = sigma_time - 30m, window_end = sigma_time, rule_count = 2"
    )


def test_group_by_dynamic_member_and_aks_field() -> None:
    query = one(
        """
        type: event_count
        rules: [secret_get]
        group-by: [user.username, objectRef.namespace]
        timespan: 5m
        condition: {gte: 20}
        """
    )
    assert query.startswith("let sigma_events = AKSAudit\n")
    assert (
        'sigma_event = tostring(AuditId), sigma_rule = "secret_get", user_username = tolower(tostring(User.username)), '
        "objectRef_namespace = tolower(tostring(ObjectRef.namespace))"
    ) in query
    assert "| sort by user_username asc, objectRef_namespace asc, sigma_time asc, sigma_kind asc\n" in query


def test_aliases_and_chained_correlation() -> None:
    burst = correlation(
        """
        type: event_count
        rules: [secret_get]
        group-by: [user.username]
        timespan: 5m
        condition: {gte: 20}
        """,
        "Burst",
        "0c0f0000-0000-4000-8000-0000000000b1",
    ).replace("status: test\n", "name: burst\nstatus: test\n")
    chained = correlation(
        """
        type: temporal_ordered
        rules: [burst, written]
        group-by: [user]
        aliases:
            user:
                burst: user.username
                written: caller
        timespan: 1h
        """
    )
    [query] = convert(burst, chained)
    assert query.startswith("let sigma_events_1 = AKSAudit\n")
    assert "let sigma_alerts_1 = sigma_swept_1\n" in query
    assert (
        '(sigma_alerts_1\n| project sigma_time = window_end, sigma_event = strcat("burst|", tostring(window_end), '
        '"|", user_username), sigma_rule = "burst", user = user_username)'
    ) in query
    assert "user = tolower(tostring(Caller)))" in query
    assert "sigma_evidence" not in query  # the windows are found without their events
    _, collection = converted(burst, chained)
    [plan] = [plan_of(r) for r in collection.rules if r.title == "Correlation"]
    lets, body = plan.statements(evidence=True)
    listed = "".join(f"{text};\n" for text in lets) + body
    assert (
        '"|", user_username), sigma_rule = "burst", user = user_username, sigma_evidence = event_ids)'
    ) in listed
    assert "user = tolower(tostring(Caller)), sigma_evidence = pack_array(tostring(EventDataId)))" in listed
    assert (
        "| mv-expand sigma_evidence to typeof(string)\n| summarize event_ids = make_set(sigma_evidence)"
        in listed
    )


def test_generate_outputs_the_base_rules_as_queries() -> None:
    queries = convert(
        correlation(
            """
            type: event_count
            rules: [failed]
            group-by: [caller]
            timespan: 10m
            condition: {gte: 5}
            generate: true
            """
        )
    )
    assert queries[0] == (
        "AzureActivity\n"
        '| where OperationNameValue =~ "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE" and '
        '(ActivityStatusValue in~ ("Failure", "Failed"))'
    )
    assert queries[-1].startswith(FAILED_EVENTS)
    assert len(queries) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "type: temporal_ordered\nrules: [failed, written, secret_get]\ngroup-by: [caller]\ntimespan: 1h\n"
            "condition: {gte: 2}",
            "only 'every referenced rule, in order'",
        ),
        (
            "type: event_count\nrules: [failed]\ngroup-by: [nosuchfield]\ntimespan: 1h\ncondition: {gte: 2}",
            "group-by field 'nosuchfield' (in rule 'failed') has no AzureActivity column",
        ),
        (
            "type: event_count\nrules: [secret_get]\ngroup-by: [sourceIPs]\ntimespan: 1h\ncondition: {gte: 2}",
            "holds a list",
        ),
        (
            "type: event_count\nrules: [failed]\ngroup-by: [event_count]\ntimespan: 1h\ncondition: {gte: 2}",
            "collides with an output column",
        ),
    ],
)
def test_what_cannot_be_expressed_is_a_clear_error(body: str, message: str) -> None:
    with pytest.raises(SigmaError, match="correlation rule 'Correlation'") as caught:
        one(body)
    assert message in str(caught.value)


def test_extended_temporal_condition_is_refused() -> None:
    with pytest.raises(SigmaError, match="extended temporal conditions"):
        one("type: temporal\ngroup-by: [caller]\ntimespan: 1h\ncondition: failed and not written")


# ---- analytics rules -------------------------------------------------------------------------------
def _template(body: str, **options: Any) -> dict[str, Any]:
    [text] = convert(correlation(body), output_format="yaml", **options)
    return yaml.safe_load(text)


EVENT_COUNT = """
type: event_count
rules: [failed]
group-by: [caller, callerIpAddress]
timespan: 10m
condition: {gte: 5}
"""


def test_analytics_rule_period_covers_frequency_timespan_and_delay() -> None:
    template = _template(EVENT_COUNT)
    assert (template["queryFrequency"], template["queryPeriod"]) == ("1h", "100m")
    assert template["query"].endswith(
        "| where window_end > ago(90m) and window_end <= ago(30m)\n"
        "| summarize arg_min(window_end, *), alerting_windows = count() by caller, callerIpAddress;\n"
        "sigma_first\n"
        "| join kind=inner (sigma_events | project caller, callerIpAddress, sigma_time, sigma_event) on caller, "
        "callerIpAddress\n"
        "| where sigma_time between (window_start .. window_end)\n"
        "| summarize event_ids = make_set(sigma_event, 100), window_events = count_distinct(sigma_event) by caller, "
        "callerIpAddress, window_start, window_end, event_count, alerting_windows\n"
        '| extend caller_FullName = iff(caller contains "@", caller, ""), caller_AadUserId = iff(caller matches regex '
        '"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", caller, "")'
    )
    assert template["entityMappings"] == [
        {
            "entityType": "Account",
            "fieldMappings": [
                {"identifier": "FullName", "columnName": "caller_FullName"},
                {"identifier": "AadUserId", "columnName": "caller_AadUserId"},
            ],
        },
        {"entityType": "IP", "fieldMappings": [{"identifier": "Address", "columnName": "callerIpAddress"}]},
    ]
    assert template["customDetails"] == {
        "Caller": "caller",
        "CallerIpAddress": "callerIpAddress",
        "EventCount": "event_count",
        "WindowStart": "window_start",
        "WindowEnd": "window_end",
        "AlertingWindows": "alerting_windows",
        "WindowEvents": "window_events",
    }
    assert template["alertDetailsOverride"]["alertDisplayNameFormat"] == (
        "Correlation: {{event_count}} events for {{caller}}, {{callerIpAddress}}"
    )
    assert template["eventGroupingSettings"] == {"aggregationKind": "AlertPerResult"}


def test_analytics_rule_frequency_option_moves_the_period() -> None:
    template = _template(EVENT_COUNT, query_frequency="15m")
    assert (template["queryFrequency"], template["queryPeriod"]) == ("15m", "55m")
    assert "| where window_end > ago(45m) and window_end <= ago(30m)" in template["query"]


def test_analytics_rule_timespan_beyond_sentinel_lookback_is_an_error() -> None:
    body = EVENT_COUNT.replace("timespan: 10m", "timespan: 14d")
    with pytest.raises(
        SigmaError, match="timespan 14d is too long .* The longest timespan that fits is 13d22h30m"
    ):
        _template(body)
    assert _template(body.replace("14d", "13d"))["queryPeriod"] == "18810m"  # 13d + 1h + 30m


def test_analytics_rule_needs_an_entity_among_the_group_keys() -> None:
    with pytest.raises(SigmaError, match="no group-by field maps to a Sentinel entity"):
        _template(EVENT_COUNT.replace("group-by: [caller, callerIpAddress]", "group-by: [operationName]"))


def test_arm_and_json_formats_hold_the_same_schedule() -> None:
    [arm] = convert(correlation(EVENT_COUNT), output_format="arm")
    [rest] = convert(correlation(EVENT_COUNT), output_format="json")
    properties = json.loads(arm)["resources"][0]["properties"]
    assert (properties["queryFrequency"], properties["queryPeriod"]) == ("PT1H", "PT1H40M")
    assert json.loads(rest)["properties"] == properties


# ---- Microsoft's parser ------------------------------------------------------------------------------
def _every_shape() -> list[str]:
    bodies = [
        EVENT_COUNT,
        "type: value_count\nrules: [failed, written]\ngroup-by: [caller]\ntimespan: 1h\n"
        "condition: {gte: 3, field: resourceId}",
        "type: value_sum\nrules: [failed]\ngroup-by: [caller]\ntimespan: 1h\ncondition: {gt: 3, field: properties.code}",
        "type: value_avg\nrules: [failed]\ngroup-by: [caller]\ntimespan: 1h\ncondition: {lt: 3, field: properties.code}",
        "type: value_median\nrules: [failed]\ngroup-by: [caller]\ntimespan: 1h\n"
        "condition: {neq: 3, field: properties.code}",
        "type: value_percentile\nrules: [failed]\ngroup-by: [caller]\ntimespan: 1h\n"
        "condition: {eq: 3, field: properties.code, percentile: 95}",
        "type: temporal\nrules: [failed, written, secret_get]\ngroup-by: [caller]\ntimespan: 45m\n"
        "aliases: {caller: {failed: caller, written: caller, secret_get: user.username}}",
        "type: temporal_ordered\nrules: [failed, written]\ngroup-by: [caller]\ntimespan: 2h",
        "type: event_count\nrules: [secret_get]\ngroup-by: [user.username]\ntimespan: 5m\ncondition: {gte: 20}",
    ]
    return [correlation(body) for body in bodies]


def test_microsoft_parser_accepts_every_correlation_query(kql: Any, report: Any) -> None:
    checked = 0
    for document in _every_shape():
        for output_format in ("default", "yaml"):
            try:
                [result] = convert(document, output_format=output_format)
            except SigmaError as error:
                assert "no group-by field maps" in str(error)  # value_* without an entity, in yaml only
                continue
            query = result if output_format == "default" else yaml.safe_load(result)["query"]
            errors = [str(d) for d in kql.diagnostics(query) if d.is_error]
            assert not errors, (query, errors)
            checked += 1
            if output_format == "default":  # the form listing each window's events (replay's every_window)
                _, collection = converted(document)
                [plan] = [plan_of(r) for r in collection.rules if r.title == "Correlation"]
                listed = plan.render(evidence=True)
                assert not [str(d) for d in kql.diagnostics(listed) if d.is_error], listed
                checked += 1
    # each folder's correlations with the base rules beside them (one rule a file, as SigmaHQ writes them)
    own = [REPO / "rules" / "correlations", REPO / "examples" / "correlations"]
    for folder in own:
        for output_format in ("default", "yaml"):
            collection = SigmaCollection.load_ruleset([str(folder)])
            output = SentinelBackend().convert(collection, output_format)
            queries = (
                output if output_format == "default" else [d["query"] for d in yaml.safe_load_all(output)]
            )
            for query in queries:
                assert not [str(d) for d in kql.diagnostics(query) if d.is_error], query
                checked += 1
    report(f"correlation: Microsoft's parser accepted {checked} correlation queries")
    assert checked >= 20



@pytest.mark.parametrize("order", [1, -1], ids=["rules first", "correlations first"])
def test_correlations_convert_whatever_the_order_of_their_files(order: int) -> None:
    """Correlations in files of their own (as SigmaHQ writes them) convert the same whether their files
    come before or after the files of the rules they read, across tables (AWSCloudTrail, AKSAudit)."""
    folder = REPO / "examples" / "correlations"
    names = [
        "aws_ec2_userdata_read",
        "kubernetes_audit_secret_read_by_user",
        "correlation_aws_ec2_userdata_download_burst",
        "correlation_kubernetes_audit_secrets_read_burst",
    ][::order]
    files = [str(folder / f"{name}.yml") for name in names]
    queries = SentinelBackend().convert(SigmaCollection.load_ruleset(files))
    pairs = [(names[0], names[2]), (names[1], names[3])] if order == 1 else [(names[3], names[1]), (names[2], names[0])]
    expected = [
        query
        for pair in pairs
        for query in SentinelBackend().convert(
            SigmaCollection.load_ruleset([str(folder / f"{name}.yml") for name in pair])
        )
    ]
    assert sorted(queries) == sorted(expected) and len(queries) == 2

# ---- many files ----------------------------------------------------------------------------------------
def test_batch_resolves_rules_across_files_and_reports_a_missing_one(tmp_path: Path) -> None:
    from sigma_azure_aks.batch import convert_paths

    (tmp_path / "b_bases.yml").write_text(BASES)
    (tmp_path / "a_burst.yml").write_text(correlation(EVENT_COUNT))
    (tmp_path / "c_missing.yml").write_text(
        correlation(
            EVENT_COUNT.replace("[failed]", "[nosuchrule]"), rule_id="0c0f0000-0000-4000-8000-0000000000c9"
        )
    )
    result = convert_paths([tmp_path])
    [failure] = result.failures
    assert failure.line().startswith(f"{tmp_path / 'c_missing.yml'}: correlation Rule 'nosuchrule' not found")
    titles = sorted(c.rule.title for c in result.converted)
    assert titles == ["Correlation", "Role write", "Secret get"]  # `failed` is only read by the correlation
    [burst] = [c for c in result.converted if c.rule.title == "Correlation"]
    assert burst.table == "AzureActivity" and burst.query.startswith(FAILED_EVENTS)


def test_replay_command_lists_alerts(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("duckdb_kql")
    from sigma_azure_aks.commands import main

    events = tmp_path / "events.jsonl"
    rows = [
        {
            "$table": "AzureActivity",
            "EventDataId": f"e{i}",
            "TimeGenerated": f"2026-03-01T00:0{i}:00Z",
            "OperationNameValue": "Microsoft.Authorization/roleAssignments/write",
            "ActivityStatusValue": "Failed",
            "Caller": "mallory@contoso.com",
            "CallerIpAddress": "10.1.2.3",
        }
        for i in range(5)
    ]
    events.write_text("".join(json.dumps(row) + "\n" for row in rows))
    (tmp_path / "rules.yml").write_text(BASES + "---\n" + correlation(EVENT_COUNT))
    assert main(["replay", str(tmp_path / "rules.yml"), "--events", str(events)]) == 0
    out = capsys.readouterr().out
    assert "Correlation (0c0f0000-0000-4000-8000-0000000000c1)" in out and "1 alert(s), 5 event(s)" in out
    assert "caller=mallory@contoso.com callerIpAddress=10.1.2.3  metric=5  events=e0,e1,e2,e3,e4" in out


def test_readme_example_schedule() -> None:
    """What the README says of the project's failed role-assignment rule."""
    folder = REPO / "rules" / "correlations"
    collection = SigmaCollection.load_ruleset(
        [
            str(folder / "azure_role_assignment_write_failed.yml"),
            str(folder / "correlation_azure_role_assignment_write_failures.yml"),
        ]
    )
    template = yaml.safe_load(SentinelBackend().convert(collection, "yaml"))
    assert (template["queryFrequency"], template["queryPeriod"]) == ("1h", "100m")
    assert template["entityMappings"][0]["entityType"] == "Account"
    assert template["alertDetailsOverride"]["alertDisplayNameFormat"].endswith(
        "{{event_count}} events for {{caller}}"
    )
    assert (
        "Sigma rule d310673d-8ae2-44c8-95a3-915e2c9390ef by pySigma-pipeline-azure project"
        in template["description"]
    )


def test_validate_reads_a_correlation_before_its_rules_file(tmp_path: Path, kql: Any) -> None:
    from sigma_azure_aks.validate import validate_paths

    (tmp_path / "z_bases.yml").write_text(BASES)
    (tmp_path / "a_burst.yml").write_text(correlation(EVENT_COUNT))
    report = validate_paths([tmp_path], checker=kql)
    assert report.ok, report.problems
    assert report.conversion_failures == 0 and report.queries_checked == 3  # written, secret_get, burst


# ---- Entra ID and Microsoft 365 tables ---------------------------------------------------------------
ENTRA_BASES = """\
title: Failed sign-in
id: 0c0f0000-0000-4000-8000-0000000000e1
name: failed_signin
logsource: {product: azure, service: signinlogs}
detection:
    sel: {ResultType: 50126}
    condition: sel
---
title: User updated
id: 0c0f0000-0000-4000-8000-0000000000e2
name: user_updated
logsource: {product: azure, service: auditlogs}
detection:
    sel: {OperationName: Update user}
    condition: sel
---
title: Mailbox rule
id: 0c0f0000-0000-4000-8000-0000000000e3
name: inbox_rule
logsource: {product: m365, service: audit}
detection:
    sel: {Operation: New-InboxRule}
    condition: sel
"""

ENTRA_CORRELATIONS = [
    "type: event_count\nrules: [failed_signin]\ngroup-by: [UserPrincipalName]\ntimespan: 10m\ncondition: {gte: 10}",
    "type: value_count\nrules: [failed_signin]\ngroup-by: [UserPrincipalName]\ntimespan: 1h\n"
    "condition: {gte: 5, field: IPAddress}",
    "type: temporal_ordered\nrules: [failed_signin, user_updated]\ngroup-by: [user]\ntimespan: 1h\n"
    "aliases: {user: {failed_signin: UserPrincipalName, user_updated: InitiatedBy.user.userPrincipalName}}",
    "type: event_count\nrules: [inbox_rule]\ngroup-by: [UserId]\ntimespan: 1h\ncondition: {gte: 3}",
]


@pytest.mark.parametrize("body", ENTRA_CORRELATIONS)
def test_entra_and_m365_correlations_parse(body: str, kql: Any) -> None:
    documents = "---\n".join([ENTRA_BASES, correlation(body)])
    for output_format in ("default", "yaml"):
        output = SentinelBackend().convert(SigmaCollection.from_yaml(documents), output_format)
        queries = output if output_format == "default" else [d["query"] for d in yaml.safe_load_all(output)]
        correlated = [q for q in queries if "sigma_events" in q]
        assert len(correlated) == 1, queries
        assert not [str(d) for d in kql.diagnostics(correlated[0]) if d.is_error], correlated[0]



AUDITLOGS_BASE = """\
title: Member added
id: 0c0f0000-0000-4000-8000-000000000004
name: member_added
status: test
logsource: {product: azure, service: auditlogs}
detection:
    sel: {OperationName: Add member to group}
    condition: sel
"""
AKS_BASE = BASES.split("---\n")[2].replace("name: secret_get", "name: member_added")


def _grouped_by(base: str, key: str) -> str:
    """A count of the base rule's events grouped by `key`, converted after its base rule."""
    body = f"type: event_count\nrules: [member_added]\ngroup-by: ['{key}']\ntimespan: 1h\ncondition: {{gte: 2}}"
    collection = SigmaCollection.from_yaml("---\n".join([base, correlation(body)]))
    collection.resolve_rule_references()
    backend = SentinelBackend()
    backend.init_processing_pipeline("default")
    base_rule, correlation_rule = collection.rules
    backend.convert_rule(base_rule)
    [query] = backend.convert_correlation_rule(correlation_rule)
    return query


@pytest.mark.parametrize(
    ("base", "key", "table"),
    [
        (AUDITLOGS_BASE, "TargetResources.displayName", "AuditLogs"),
        (AUDITLOGS_BASE, "AdditionalDetails", "AuditLogs"),
        (AKS_BASE, "user.groups", "AKSAudit"),
    ],
)
def test_a_list_valued_key_of_any_source_is_refused(base: str, key: str, table: str) -> None:
    """The sources' own declarations (arrays, array structures) say which fields hold lists."""
    with pytest.raises(SigmaError, match=f"group-by field '{key}' .*holds a list in {table}"):
        _grouped_by(base, key)


def test_a_member_of_a_single_object_is_a_key() -> None:
    query = _grouped_by(AUDITLOGS_BASE, "InitiatedBy.user.userPrincipalName")
    assert "tolower(tostring(InitiatedBy.user.userPrincipalName))" in query


def test_analytics_correlation_query_over_10000_characters_is_refused() -> None:
    """The running sums' lines count too: a correlation over a long base rule is refused in the
    analytics formats, not cut."""
    users = ", ".join(f'"user{i:04d}@contoso.com"' for i in range(345))
    long_rule = (
        "title: Long\nid: 0c0f0000-0000-4000-8000-000000000009\nname: long_get\nstatus: test\n"
        "logsource: {product: kubernetes, service: audit}\n"
        f"detection:\n    sel: {{user.username: [{users}]}}\n    condition: sel\n"
    )
    body = "type: value_count\nrules: [long_get]\ngroup-by: [user.username]\ntimespan: 1h\ncondition: {gte: 3, field: verb}"
    [query] = convert(long_rule, correlation(body))
    assert query.startswith("let sigma_events = AKSAudit") and 9000 < len(query) < 10000
    with pytest.raises(SigmaError, match="the query is 1[0-9]{4} characters; Sentinel accepts 1 to 10000"):
        convert(long_rule, correlation(body), output_format="yaml")
