"""The claimed-item gate: an item of one source applies to exactly the rules that source claimed,
the same answer as its rule condition gives."""

from __future__ import annotations

from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingPipeline
from sigma.processing.transformations import AddConditionTransformation

from sigma_azure_aks.pipelines.items import ClaimedProcessingItem, claimed_item
from sigma_azure_aks.pipelines.state import CLAIMED_BY

RULE = """
title: t
logsource: {product: azure, service: activitylogs}
detection:
  sel: {caller: x}
  condition: sel
"""


def _applied(claimed_by: str | None, claimer: str) -> tuple[bool, bool]:
    """(the gate's answer, the rule condition's answer) for a rule claimed by `claimed_by`."""
    rule = SigmaCollection.from_yaml(RULE).rules[0]
    item = claimed_item(claimer, "probe", AddConditionTransformation({"probe": "y"}))
    assert isinstance(item, ClaimedProcessingItem)
    pipeline = ProcessingPipeline(items=[item])
    pipeline.state = {CLAIMED_BY: claimed_by} if claimed_by else {}
    return item.apply(rule), item.match_rule_conditions(rule)


def test_gate_agrees_with_the_rule_condition() -> None:
    for claimed_by in ("azure_activity", "aks_audit", None):
        gate, condition = _applied(claimed_by, "azure_activity")
        assert gate == condition == (claimed_by == "azure_activity")

