"""One funnel for rule input (batch.load_inputs): paths, YAML text and pySigma objects reach the
same conversion, through the Python API (replay) as through the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sigma.collection import SigmaCollection

from sigma_azure_aks.batch import load_inputs
from sigma_azure_aks.replay.api import convert

RULE = """\
title: Role assignment written
id: 0c0f0000-0000-4000-8000-0000000000a1
name: role_written
status: test
logsource: {product: azure, service: activitylogs}
detection:
    sel: {operationName: MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE}
    condition: sel
"""
QUERY = 'AzureActivity\n| where OperationNameValue =~ "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE"'
CORRELATION = """\
title: Many role writes
id: 0c0f0000-0000-4000-8000-0000000000a2
status: test
correlation:
    type: event_count
    rules: [role_written]
    group-by: [caller]
    timespan: 10m
    condition: {gte: 2}
"""
FILTER = """\
title: Not the deployment account
id: 0c0f0000-0000-4000-8000-0000000000a3
logsource: {product: azure, service: activitylogs}
filter:
    rules: [role_written]
    selection: {caller: deployer@example.com}
    condition: not selection
"""
ROWS = [
    {"Type": "AzureActivity", "EventDataId": f"e{n}", "TimeGenerated": f"2026-01-01T00:0{n}:00Z",
     "OperationNameValue": "Microsoft.Authorization/roleAssignments/write", "Caller": caller}
    for n, caller in ((1, "alice@example.com"), (2, "alice@example.com"), (3, "deployer@example.com"))
]


def _file(tmp_path: Path, text: str, name: str = "rule.yml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


INPUTS = {
    "file": lambda tmp: _file(tmp, RULE),
    "file as str": lambda tmp: str(_file(tmp, RULE)),
    "folder": lambda tmp: _file(tmp, RULE).parent,
    "yaml text": lambda tmp: RULE,
    "SigmaRule": lambda tmp: SigmaCollection.from_yaml(RULE).rules[0],
    "SigmaCollection": lambda tmp: SigmaCollection.from_yaml(RULE),
    "list of kinds": lambda tmp: [SigmaCollection.from_yaml(RULE).rules[0]],
}


@pytest.mark.parametrize("kind", list(INPUTS))
def test_every_input_kind_converts_the_same(kind: str, tmp_path: Path) -> None:
    converted, failures = convert(INPUTS[kind](tmp_path))
    assert failures == []
    assert [(c.query, c.table, str(c.rule.id)) for c in converted] == [
        (QUERY, "AzureActivity", "0c0f0000-0000-4000-8000-0000000000a1")
    ]


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param(lambda tmp: RULE + "---\n" + CORRELATION, id="one text"),
        pytest.param(lambda tmp: [_file(tmp, RULE), CORRELATION], id="file and text"),
        pytest.param(lambda tmp: [*SigmaCollection.from_yaml(RULE + "---\n" + CORRELATION).rules], id="rule objects"),
        pytest.param(lambda tmp: [CORRELATION, SigmaCollection.from_yaml(RULE).rules[0]], id="text and object"),
    ],
)
def test_a_correlation_finds_its_rules_in_any_input(rules: Any, tmp_path: Path) -> None:
    converted, failures = convert(rules(tmp_path))
    assert failures == []
    [correlation] = [c for c in converted if c.rule.title == "Many role writes"]
    assert correlation.query.startswith("let sigma_events = " + QUERY + "\n")


def test_a_filter_in_one_input_applies_to_a_rule_in_another(tmp_path: Path) -> None:
    [converted], failures = convert([_file(tmp_path, RULE), FILTER])
    assert failures == []
    assert converted.query.startswith(QUERY + " and ")
    assert "deployer@example.com" in converted.query


@pytest.mark.parametrize(
    ("rules", "line"),
    [
        ("title: x\ndetection: [\n", "<yaml>: not valid YAML: "),
        (RULE.replace("condition: sel", "condition: nosuch"), "<yaml>: "),
        (lambda tmp: tmp / "missing.yml", "missing.yml: cannot read file: "),
    ],
)
def test_broken_input_is_a_failure_line(rules: Any, line: str, tmp_path: Path) -> None:
    converted, failures = convert(rules(tmp_path) if callable(rules) else rules)
    assert converted == []
    assert len(failures) == 1 and line in failures[0], failures


def test_a_rule_object_keeps_its_file_in_failures(tmp_path: Path) -> None:
    path = _file(tmp_path, RULE.replace("operationName", "nosuchfield"))
    collection = SigmaCollection.load_ruleset([str(path)])
    converted, failures = convert(collection)
    assert converted == []
    assert len(failures) == 1 and failures[0].startswith(f"{path}: ") and "nosuchfield" in failures[0]


def test_the_funnel_reads_folders_for_the_suffixes_asked(tmp_path: Path) -> None:
    _file(tmp_path, RULE, "a.yml")
    _file(tmp_path, RULE.replace("a1", "a4"), "b.txt")
    assert [item.path.name for item in load_inputs(tmp_path)] == ["a.yml"]
    assert [item.path.name for item in load_inputs(tmp_path, (".yml", ".txt"))] == ["a.yml", "b.txt"]


@pytest.mark.parametrize("kind", list(INPUTS))
def test_replay_takes_every_input_kind(kind: str, tmp_path: Path) -> None:
    pytest.importorskip("duckdb_kql", reason="replay engine (duckdb-kql) not installed")
    from sigma_azure_aks.replay import replay

    result = replay(INPUTS[kind](tmp_path), ROWS)
    assert result.failures == []
    assert result["0c0f0000-0000-4000-8000-0000000000a1"] == ["e1", "e2", "e3"]


def test_replay_runs_a_correlation_given_as_objects() -> None:
    pytest.importorskip("duckdb_kql", reason="replay engine (duckdb-kql) not installed")
    from sigma_azure_aks.replay import replay

    rules = [*SigmaCollection.from_yaml(RULE + "---\n" + FILTER + "---\n" + CORRELATION).rules]
    result = replay(rules, ROWS)
    assert result.failures == []
    assert result["0c0f0000-0000-4000-8000-0000000000a2"] == ["e1", "e2"]
