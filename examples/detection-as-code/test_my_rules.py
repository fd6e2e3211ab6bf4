"""Detection-as-code: each rule fires on the events it is meant for, and not on the others.

Run with `pytest examples/detection-as-code` (needs `pip install 'pySigma-pipeline-azure[replay]'`).
The rules are compiled to the same KQL the Sentinel analytics rules run, and replayed locally.
"""

from pathlib import Path

import pytest

pytest.importorskip("duckdb_kql", reason="the replay engine is an optional extra")

from sigma_azure_aks.replay import replay  # noqa: E402

HERE = Path(__file__).parent
NSG_RULE_DELETED = "3c3c7a0e-6f53-4a52-9d0c-2f6a4f1f1a01"


@pytest.fixture(scope="module")
def hits() -> dict:
    result = replay(HERE / "rules", HERE / "events" / "azureactivity.jsonl")
    assert not result.failures, result.failures  # every rule converts
    return result


def test_nsg_rule_deletion_fires_on_a_user_deletion(hits: dict) -> None:
    assert "evt-delete-by-user" in hits[NSG_RULE_DELETED]


@pytest.mark.parametrize(
    "event_id",
    [
        "evt-delete-started",  # not (yet) successful
        "evt-delete-by-automation",  # filtered: the automation account
        "evt-rule-written",  # another operation
    ],
)
def test_nsg_rule_deletion_stays_quiet(hits: dict, event_id: str) -> None:
    assert event_id not in hits[NSG_RULE_DELETED]


def test_inline_rule_and_rows() -> None:
    """Rules and events can also be written inline, e.g. for a regression test of one alert."""
    rule = """
title: Key Vault deleted
id: 9a1f0c55-0d3e-4c55-8f4b-0c2f0a7d1b02
logsource: {product: azure, service: activitylogs}
detection:
  selection: {operationName: MICROSOFT.KEYVAULT/VAULTS/DELETE}
  condition: selection
"""
    rows = [
        {
            "$table": "AzureActivity",
            "EventDataId": "kv-1",
            "OperationNameValue": "Microsoft.KeyVault/vaults/delete",
        },
        {
            "$table": "AzureActivity",
            "EventDataId": "kv-2",
            "OperationNameValue": "Microsoft.KeyVault/vaults/write",
        },
    ]
    assert replay(rule, rows) == {"9a1f0c55-0d3e-4c55-8f4b-0c2f0a7d1b02": ["kv-1"]}
