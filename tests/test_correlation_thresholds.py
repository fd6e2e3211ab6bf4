"""Fractional correlation thresholds: pySigma 1.x reads `gt: 2.5` as `gt: 2` (and every version reads
`percentile: 99.5` as 99), a different rule; such a rule is refused with the exact whole-number form
where there is one. On pySigma 2.x, which keeps the fraction, the query alerts exactly when the
written condition holds: replayed windows against the condition evaluated in rationals."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from replay_support import REPO, require_engine
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.exceptions import SigmaError
from test_correlation_replay import BASES, CORRELATION_ID, EPOCH, event

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.batch import iter_convert

PYSIGMA = f"pySigma {version('pysigma')}"
PYSIGMA_2 = int(version("pysigma").split(".")[0]) >= 2
LABEL = f"correlation rule 'Correlation' ({CORRELATION_ID})"
SPAN = 600
COMPARE = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
}


def correlation(kind: str, condition: str, rules: str = "[failed]") -> str:
    return (
        f"title: Correlation\nid: {CORRELATION_ID}\nstatus: test\ncorrelation:\n    type: {kind}\n"
        f"    rules: {rules}\n    group-by: [caller]\n    timespan: 10m\n    condition: {condition}\n"
    )


def failure_lines(text: str) -> list[str]:
    return [outcome.line() for outcome in iter_convert(text) if not hasattr(outcome, "query")]


def test_the_installed_pysigma_reads_fractions_as_these_tests_expect() -> None:
    read = SigmaCorrelationCondition.from_dict({"gt": 2.5, "percentile": 99.5})
    assert read.count == (2.5 if PYSIGMA_2 else 2)
    assert read.percentile == 99  # every line truncates a percentile


# ---- exact lines ----------------------------------------------------------------------------------------
TRUNCATED = f"is read by {PYSIGMA} as"
TWO_X = "or use pySigma 2.x, which keeps fractional thresholds"
LINES_1X = {
    ("event_count", "{gt: 2.5}"): f"condition gt: 2.5 {TRUNCATED} gt: 2, a different condition; "
    f"write gte: 3 (the same condition on a count), {TWO_X}",
    ("event_count", "{gte: 2.5}"): f"condition gte: 2.5 {TRUNCATED} gte: 2, a different condition; "
    f"write gte: 3 (the same condition on a count), {TWO_X}",
    ("event_count", "{lt: 2.5}"): f"condition lt: 2.5 {TRUNCATED} lt: 2, a different condition; "
    f"write lte: 2 (the same condition on a count), {TWO_X}",
    ("value_count", "{lte: 3.5, field: resourceId}"): f"condition lte: 3.5 {TRUNCATED} lte: 3, a different "
    f"condition; write lte: 3 (the same condition on a count), {TWO_X}",
    ("event_count", "{eq: 2.5}"): f"condition eq: 2.5 {TRUNCATED} eq: 2, a different condition; event_count is "
    "a whole number, so condition eq: 2.5 never holds; write the count you meant",
    ("value_sum", "{gt: 2.5, field: properties.code}"): f"condition gt: 2.5 {TRUNCATED} gt: 2, a different "
    "condition; use pySigma 2.x, which keeps fractional thresholds (no whole number is the same threshold "
    "for value_sum)",
}
LINES_EVERY = {
    ("value_percentile", "{gt: 4, field: properties.code, percentile: 99.5}"): f"percentile 99.5 {TRUNCATED} "
    "99, a different condition; write a whole-number percentile (pySigma reads only whole ones)",
    ("event_count", "{gt: true}"): f"condition gt: true {TRUNCATED} gt: 1, a different condition; write a number",
    ("event_count", "{neq: 2.5}"): "event_count is a whole number, so condition neq: 2.5 holds for every window; "
    "write the count you meant",
}


@pytest.mark.parametrize(("kind", "condition"), sorted({**LINES_1X, **LINES_EVERY}))
def test_a_condition_pysigma_misreads_is_one_exact_line(kind: str, condition: str) -> None:
    lines = failure_lines(BASES + "---\n" + correlation(kind, condition))
    if (kind, condition) in LINES_EVERY:
        if (kind, condition) == ("event_count", "{neq: 2.5}") and not PYSIGMA_2:
            expected = f"condition neq: 2.5 {TRUNCATED} neq: 2, a different condition; " + LINES_EVERY[kind, condition]
        else:
            expected = LINES_EVERY[kind, condition]
        assert lines == [f"<yaml>: {LABEL}: {expected}"]
    elif PYSIGMA_2:
        assert (kind, condition) == ("event_count", "{eq: 2.5}") or lines == []
    else:
        assert lines == [f"<yaml>: {LABEL}: {LINES_1X[kind, condition]}"]


@pytest.mark.skipif(not PYSIGMA_2, reason="pySigma 1.x refuses the written fraction first")
def test_a_count_equal_to_a_fraction_never_holds_and_is_refused() -> None:
    lines = failure_lines(BASES + "---\n" + correlation("event_count", "{eq: 2.5}"))
    assert lines == [
        f"<yaml>: {LABEL}: event_count is a whole number, so condition eq: 2.5 never holds; write the count you meant"
    ]


def test_whole_thresholds_written_as_reals_are_what_was_written() -> None:
    text = BASES + "---\n" + correlation("event_count", "{gt: 2.0}")
    [query] = [outcome.query for outcome in iter_convert(text) if str(outcome.rule.id) == CORRELATION_ID]
    assert query.endswith("| where event_count > 2")


# ---- where the written condition comes from -----------------------------------------------------------
TWO_CORRELATIONS = (
    BASES
    + "---\n"
    + correlation("event_count", "{gt: 2.5}")
    + "---\n"
    + correlation("event_count", "{gt: 2}").replace("title: Correlation", "title: Other").replace(
        CORRELATION_ID, "0d0f0000-0000-4000-8000-0000000000c2"
    )
)


def correlations_of(collection: SigmaCollection, backend: SentinelBackend) -> list[Any]:
    """The correlation rules of `collection`, its other rules converted (as pySigma's convert does)."""
    collection.resolve_rule_references()
    for rule in collection.rules:
        if not isinstance(rule, SigmaCorrelationRule):
            backend.convert_rule(rule)
    return [rule for rule in collection.rules if isinstance(rule, SigmaCorrelationRule)]


def test_a_rule_loaded_from_its_file_is_checked_against_the_file(tmp_path: Path) -> None:
    """sigma-cli's way: rules loaded with their file (`rule.source`); each correlation is found in
    it by id, name and title, the other one converts."""
    path = tmp_path / "two.yml"
    path.write_text(TWO_CORRELATIONS, encoding="utf-8")
    backend = SentinelBackend()
    backend.init_processing_pipeline("default")
    fractional, whole = correlations_of(SigmaCollection.load_ruleset([path]), backend)
    assert whole.title == "Other"
    assert backend.convert_correlation_rule(whole)[0].endswith("| where event_count > 2")
    if PYSIGMA_2:
        assert backend.convert_correlation_rule(fractional)[0].endswith("| where event_count >= 3")
    else:
        with pytest.raises(SigmaError) as caught:
            backend.convert_correlation_rule(fractional)
        assert str(caught.value) == f"{LABEL}: {LINES_1X['event_count', '{gt: 2.5}']}"


def test_a_rule_without_its_text_stands_as_pysigma_read_it() -> None:
    """A caller's own parse, without a file: nothing can tell `gt: 2.5` from `gt: 2` on pySigma 1.x,
    so the query compares with what pySigma read (docs/correlation.md says so); a whole threshold,
    the common case, converts on both lines."""
    backend = SentinelBackend()
    backend.init_processing_pipeline("default")
    fractional, whole = correlations_of(SigmaCollection.from_yaml(TWO_CORRELATIONS), backend)
    assert backend.convert_correlation_rule(whole)[0].endswith("| where event_count > 2")
    expected = "| where event_count >= 3" if PYSIGMA_2 else "| where event_count > 2"
    assert backend.convert_correlation_rule(fractional)[0].endswith(expected)


SIGMA_CLI = Path(sys.executable).with_name("sigma")


@pytest.mark.skipif(not SIGMA_CLI.exists(), reason="sigma-cli is not installed beside this Python")
def test_sigma_cli_refuses_or_converts_exactly(tmp_path: Path) -> None:
    path = tmp_path / "fraction.yml"
    path.write_text(BASES + "---\n" + correlation("event_count", "{gt: 2.5}"), encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.run(
        [str(SIGMA_CLI), "convert", "-t", "sentinel", str(path)], capture_output=True, text=True, env=environment
    )
    if PYSIGMA_2:
        assert run.returncode == 0, run.stderr
        assert run.stdout.rstrip().endswith("| where event_count >= 3")
    else:
        assert run.returncode != 0
        assert f"Error while converting: {LABEL}: {LINES_1X['event_count', '{gt: 2.5}']}" in run.stderr + run.stdout
    path.write_text(BASES + "---\n" + correlation("event_count", "{gte: 3}"), encoding="utf-8")
    run = subprocess.run(
        [str(SIGMA_CLI), "convert", "-t", "sentinel", str(path)], capture_output=True, text=True, env=environment
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.rstrip().endswith("| where event_count >= 3")


# ---- behaviour: alerts exactly where the written condition holds ----------------------------------------
# times (seconds) and, per event, a resource and a code; two callers
ROWS = [
    ("a1", 0, "failed", "/r1", 1),
    ("a2", 100, "failed", "/r2", 0.5),
    ("a3", 200, "written", "/r1", 0.25),
    ("a4", 300, "failed", "/r3", 0.75),
    ("a5", 700, "failed", "/r4", 2),
    ("a6", 750, "written", "/r4", 0.5),
    ("a7", 1400, "failed", "/r5", 1.5),
    ("a8", 1400, "failed", "/r5", 1.25),
]


def rows() -> list[dict[str, Any]]:
    return [
        event(name, time, status="Failed" if rule == "failed" else "Success", _ResourceId=resource,
              Properties_d={"code": code})
        for name, time, rule, resource, code in ROWS
    ]  # fmt: skip


def metric_of(kind: str, inside: list[tuple[Any, ...]], rules: tuple[str, ...]) -> Fraction | None:
    """The window's metric, in rationals, from the events its rules match."""
    counted = [row for row in inside if row[2] in rules]
    codes = sorted(Fraction(row[4]) for row in counted)
    if kind == "event_count":
        return Fraction(len(counted))
    if kind == "value_count":
        return Fraction(len({row[3] for row in counted}))
    if kind == "temporal":
        return Fraction(len({row[2] for row in counted}))
    if not codes:
        return None
    if kind == "value_sum":
        return sum(codes, Fraction(0))
    if kind == "value_avg":
        return sum(codes, Fraction(0)) / len(codes)
    middle = len(codes) // 2  # value_median
    return codes[middle] if len(codes) % 2 else (codes[middle - 1] + codes[middle]) / 2


def expected_alerts(kind: str, name: str, threshold: Fraction, rules: tuple[str, ...]) -> dict[int, Fraction]:
    """window end -> metric of every window (ending at an event of the correlation's rules) that meets
    `name: threshold`."""
    found = {}
    for end in sorted({row[1] for row in ROWS if row[2] in rules}):
        inside = [row for row in ROWS if end - SPAN <= row[1] <= end]
        metric = metric_of(kind, inside, rules)
        if metric is not None and COMPARE[name](metric, threshold):
            found[end] = metric
    return found


def replayed(kind: str, condition: str, rules: str) -> tuple[list[str], dict[int, float]]:
    require_engine()
    from sigma_azure_aks.replay import replay

    result = replay(BASES + "---\n" + correlation(kind, condition, rules), rows(), every_window=True)
    hits = [hit for hit in result.hits if hit.rule_id == CORRELATION_ID]
    windows = {
        int((alert.window_end.replace(tzinfo=None) - EPOCH.replace(tzinfo=None)).total_seconds()): alert.metric
        for hit in hits
        for alert in hit.alerts
    }
    return list(result.failures), windows


FRACTIONAL = [
    ("event_count", "gt", "2.5", "", "gte: 3"),
    ("event_count", "gte", "2.5", "", "gte: 3"),
    ("event_count", "lt", "2.5", "", "lte: 2"),
    ("event_count", "lte", "1.5", "", "lte: 1"),
    ("value_count", "gt", "1.5", ", field: resourceId", "gte: 2"),
    ("value_count", "lt", "2.5", ", field: resourceId", "lte: 2"),
    ("temporal", "gt", "1.5", "", "gte: 2"),
    ("value_sum", "gt", "2.5", ", field: properties.code", None),
    ("value_sum", "lte", "1.75", ", field: properties.code", None),
    ("value_avg", "gte", "0.875", ", field: properties.code", None),
    ("value_sum", "gt", "2.2", ", field: properties.code", None),
    ("value_avg", "lt", "0.8", ", field: properties.code", None),
    ("value_median", "gt", "0.875", ", field: properties.code", None),
]


@pytest.mark.parametrize(("kind", "name", "threshold", "extra", "whole"), FRACTIONAL)
def test_a_fractional_threshold_alerts_exactly_where_it_holds_or_is_refused(
    kind: str, name: str, threshold: str, extra: str, whole: str | None
) -> None:
    rules = ("failed", "written") if kind == "temporal" else ("failed",)
    rule_list = "[" + ", ".join(rules) + "]"
    written = Fraction(threshold)
    expected = expected_alerts(kind, name, written, rules)
    assert 0 < len(expected) < len({row[1] for row in ROWS if row[2] in rules})  # some windows, not all
    failures, windows = replayed(kind, f"{{{name}: {threshold}{extra}}}", rule_list)
    if PYSIGMA_2:
        assert failures == []
        assert windows == pytest.approx({end: float(metric) for end, metric in expected.items()})
    else:
        assert len(failures) == 1 and f"condition {name}: {threshold} {TRUNCATED} {name}: " in failures[0]
        assert windows == {}
    if whole is not None:  # the whole-number form the refusal names alerts on the same windows, on every line
        key, number = whole.split(": ")
        assert expected == expected_alerts(kind, key, Fraction(number), rules)
        failures, windows = replayed(kind, f"{{{whole}{extra}}}", rule_list)
        assert failures == []
        assert windows == pytest.approx({end: float(metric) for end, metric in expected.items()})
