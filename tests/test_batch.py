"""Batch conversion: one failure line per broken file, naming the cause once."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO_ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from sigma_azure_aks.analytics.render import dump_yaml
from sigma_azure_aks.batch import convert_paths, load_rules

BAD = REPO_ROOT / "tests" / "bad_rules"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("malformed_yaml.yml", "not valid YAML: line 10, column 13: expected ',' or ']', but got ':'"),
        ("missing_condition.yml", "Sigma rule must contain at least one condition"),
        ("missing_detection.yml", "Sigma rule must have a detection definitions"),
        ("unknown_modifier.yml", "Unknown modifier 'sometimes'"),
        ("binary_junk.yml", "not a UTF-8 text file"),
        ("empty.yml", "empty file, no Sigma rule"),
    ],
)
def test_each_broken_file_gives_its_cause_once(name: str, reason: str) -> None:
    rules, failures = load_rules(BAD / name)
    assert rules == []
    assert [f.reason for f in failures] == [reason]


def test_folder_with_bad_rules_converts_every_good_one() -> None:
    result = convert_paths([BAD])
    converted = sorted(Path(c.path).name for c in result.converted)
    assert converted == ["good_cloudshell.yml", "good_properties_message.yml"]
    failed = sorted(Path(f.path).name for f in result.failures)
    assert failed == sorted(p.name for p in BAD.iterdir() if not p.name.startswith("good_"))
    by_file = {Path(f.path).name: f.reason for f in result.failures}
    assert "field 'callerName' has no AzureActivity column" in by_file["unknown_field.yml"]
    assert (
        "no Sentinel table for log source (category: process_creation"
        in by_file["windows_process_creation.yml"]
    )
    assert all("\n" not in f.line() for f in result.failures)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=40), max_size=4))
def test_analytics_yaml_reads_back_exactly(data: dict[str, str]) -> None:
    assert yaml.safe_load(dump_yaml(data)) == data


def test_analytics_yaml_keeps_next_line_character() -> None:
    assert yaml.safe_load(dump_yaml({"description": "a\x85b"})) == {"description": "a\x85b"}


FILTERED_RULE = """
title: base
id: 7b1c3d52-1111-4a4a-8a8a-000000000001
logsource: {product: azure, service: activitylogs}
detection:
  sel:
    operationName: MICROSOFT.A/B
  condition: sel
"""
FILTER = """
title: filter bob
id: 7b1c3d52-1111-4a4a-8a8a-000000000002
logsource: {product: azure, service: activitylogs}
filter:
  rules:
    - 7b1c3d52-1111-4a4a-8a8a-000000000001
  selection:
    caller: bob
  condition: not selection
"""


def test_sigma_filter_in_another_file_applies_once(tmp_path: Path) -> None:
    (tmp_path / "base.yml").write_text(FILTERED_RULE)
    (tmp_path / "filter.yml").write_text(FILTER)
    result = convert_paths([tmp_path])
    assert result.failures == []
    assert [c.query for c in result.converted] == [
        'AzureActivity\n| where OperationNameValue =~ "MICROSOFT.A/B" and (not(Caller =~ "bob"))'
    ]
