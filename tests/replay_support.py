"""Helpers for the replay, behaviour and differential tests (not a conftest: plain imports)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import shared_dir, shared_path  # noqa: F401 -- re-exported for the replay tests

REPO = Path(__file__).resolve().parent.parent


def require_engine() -> None:
    pytest.importorskip("duckdb", reason="replay engine (duckdb) not installed")
    pytest.importorskip("duckdb_kql", reason="replay engine (duckdb-kql) not installed")


def activity_rule(detection: str, condition: str = "sel", rule_id: str = "rule") -> str:
    """A Sigma rule on azure/activitylogs around an inline detection block."""
    body = textwrap.indent(textwrap.dedent(detection).strip("\n"), "    ")
    return (
        f"title: {rule_id}\nid: 5d0c1b3a-0000-4000-8000-000000000001\nstatus: test\n"
        "logsource:\n    product: azure\n    service: activitylogs\n"
        f"detection:\n{body}\n    condition: {condition}\nlevel: medium\n"
    )


def fired(rule_yaml: str, rows: list[dict[str, Any]]) -> set[str]:
    """EventDataIds of the AzureActivity rows the rule matches (via KQL on the replay engine)."""
    from sigma_azure_aks.replay import replay

    result = replay(rule_yaml, rows)
    assert not result.failures, result.failures
    (ids,) = result.values()
    return set(ids)
