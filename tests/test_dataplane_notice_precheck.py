"""The data-plane notice's second pre-check (aks_dataplane.names_no_kubernetes_operation) skips the
analysis only for rules the analysis finds no Kubernetes operation in."""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import shared_path
from sigma.collection import SigmaCollection

from sigma_azure_aks.pipelines.aks_dataplane_analysis import (
    accepted_operations,
    names_no_kubernetes_operation,
)


def _rule(selection: dict, condition: str = "selection", **more: dict):
    detection = {"selection": selection, **more, "condition": condition}
    document = {
        "title": "t",
        "logsource": {"product": "azure", "service": "activitylogs"},
        "detection": detection,
    }
    return SigmaCollection.from_dicts([document]).rules[0]


ARM = "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/LISTCLUSTERADMINCREDENTIAL/ACTION"
KUBERNETES = "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/SECRETS/DELETE"


@pytest.mark.parametrize(
    ("rule", "skipped"),
    [
        (_rule({"operationName": ARM}), True),
        (_rule({"operationName": [ARM, KUBERNETES]}), False),  # a whole Kubernetes name
        (_rule({"operationName|startswith": "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/"}), False),
        (_rule({"operationName|re": "MANAGEDCLUSTERS/.*"}), False),
        # a negated ARM name: every other operation, Kubernetes ones included, is accepted
        (_rule({"caller": "x"}, "selection and not filter", filter={"operationName": ARM}), False),
    ],
)
def test_precheck_cases(rule, skipped: bool) -> None:
    assert names_no_kubernetes_operation(rule) is skipped


def test_negated_arm_name_is_analysed_and_accepts_kubernetes_operations() -> None:
    rule = _rule({"caller": "x"}, "selection and not filter", filter={"operationName": ARM})
    assert not names_no_kubernetes_operation(rule)
    assert accepted_operations(rule).kubernetes


def test_precheck_never_skips_a_rule_the_analysis_finds_kubernetes_operations_in() -> None:
    folder = shared_path("corpus", "sigmahq", "activitylogs")
    documents = [yaml.safe_load(path.read_text()) for path in sorted(folder.glob("*.yml"))]
    # The corpus as written, and each rule with its values changed (no longer Kubernetes names).
    varied = copy.deepcopy(documents)
    for document in varied:
        for name, body in document["detection"].items():
            if name != "condition" and isinstance(body, dict):
                document["detection"][name] = {
                    key: [f"{v}1" for v in value] if isinstance(value, list) else f"{value}1"
                    for key, value in body.items()
                }
    skipped = 0
    for rule in SigmaCollection.from_dicts(documents + varied, collect_errors=True).rules:
        if names_no_kubernetes_operation(rule):
            skipped += 1
            assert not accepted_operations(rule).kubernetes, rule.title
    assert skipped  # the pre-check does skip some rules
