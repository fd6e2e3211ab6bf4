"""`-t kusto -p azure_activity`: the same query as `-t sentinel` wherever the stock target can render
it, a clear error where it cannot, and the table written exactly once in every combination."""

from __future__ import annotations

import pytest
from sigma.backends.kusto import KustoBackend
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError
from sigma.plugins import InstalledSigmaPlugins
from sigma.processing.resolver import ProcessingPipelineResolver
from sigma_helpers import rule_yaml
from test_sentinel_target import SEED_DETECTION, SEED_QUERY

from sigma_azure_aks.backend import SentinelBackend

RENDERED_ALIKE = [
    "sel:\n    caller: a@b.c\ncondition: sel",
    "sel:\n    caller|contains: adm\ncondition: sel",
    "sel:\n    caller|startswith: adm\ncondition: sel",
    "sel:\n    caller|endswith: adm\ncondition: sel",
    "sel:\n    caller: [a, b]\ncondition: sel",
    "sel:\n    caller|contains: [a, b]\ncondition: sel",
    "sel:\n    caller: ['a', 'b*']\ncondition: sel",
    "sel:\n    caller: 'a\\*b'\ncondition: sel",
    "sel:\n    resultType: Success\ncondition: sel",
    "sel:\n    callerIpAddress|cidr: 10.0.0.0/8\ncondition: sel",
    "sel:\n    caller|re: '^a\\d+\"$'\ncondition: sel",
    "sel:\n    caller|re|i: '^adm'\ncondition: sel",
    "sel:\n    caller|exists: true\ncondition: sel",
    "a:\n    caller: x\nb:\n    level: y\ncondition: a and not b",
    # an IP range outside the `not`: Kusto's null (no address) is false there, as in Sigma
    "a:\n    callerIpAddress|cidr: 10.0.0.0/8\nb:\n    caller: y\ncondition: a and not b",
    "sel:\n    caller: 'say \"hi\" \\\\ there'\ncondition: sel",
    SEED_DETECTION,
]

REFUSED = {
    "sel:\n    properties.message: x\ncondition: sel": "member of a dynamic column",
    "sel:\n    caller: 'a*b'\ncondition: sel": "wildcard inside it",
    "sel:\n    caller: 'a?b'\ncondition: sel": "'?' wildcard",
    "sel:\n    caller: null\ncondition: sel": "null value",
    "keywords:\n    - x\ncondition: keywords": "keyword",
    "sel:\n    caller|cased: X\ncondition: sel": "|cased",
    "sel:\n    caller|fieldref: correlationId\ncondition: sel": "|fieldref",
    "sel:\n    callerIpAddress|cidr: '2001:db8::/32'\ncondition: sel": "IPv6",
    "sel:\n    level: [1, 2]\ncondition: sel": "number",
    "sel:\n    caller|contains|all: [a, b]\ncondition: sel": "|all",
    'sel:\n    caller: "a\\nb"\ncondition: sel': "control character",
    "sel:\n    callerIpAddress|cidr: 10.0.0.0/8\ncondition: not sel": "under `not`",
    "a:\n    caller: x\nb:\n    - callerIpAddress|cidr: 10.0.0.0/8\n      level: '4'\ncondition: a and not b": "under `not`",
}


def convert(backend_class: type, pipelines: list[str], detection: str) -> str:
    plugins = InstalledSigmaPlugins.autodiscover()
    pipeline = ProcessingPipelineResolver(plugins.pipelines).resolve(pipelines) if pipelines else None
    backend = backend_class(pipeline)
    [query] = backend.convert(SigmaCollection.from_yaml(rule_yaml(detection)))
    return query


@pytest.mark.parametrize("detection", RENDERED_ALIKE)
def test_stock_target_with_our_pipeline_matches_sentinel(detection: str) -> None:
    assert convert(KustoBackend, ["azure_activity"], detection) == convert(SentinelBackend, [], detection)


@pytest.mark.parametrize(("detection", "reason"), sorted(REFUSED.items()))
def test_stock_target_refuses_what_it_would_render_wrong(detection: str, reason: str) -> None:
    with pytest.raises(SigmaError) as error:
        convert(KustoBackend, ["azure_activity"], detection)
    assert reason in str(error.value)
    assert "-t sentinel" in str(error.value)
    convert(SentinelBackend, [], detection)  # and the sentinel target converts it


@pytest.mark.parametrize(
    ("backend_class", "pipelines"),
    [
        (SentinelBackend, []),
        (SentinelBackend, ["azure_activity"]),
        (KustoBackend, ["azure_activity"]),
        (KustoBackend, ["azure_activity", "azure_monitor"]),
        (KustoBackend, ["azure_monitor", "azure_activity"]),
        (SentinelBackend, ["azure_monitor"]),
        (SentinelBackend, ["azure_activity", "azure_monitor"]),
    ],
)
def test_seed_and_table_once_in_every_combination(backend_class: type, pipelines: list[str]) -> None:
    query = convert(backend_class, pipelines, SEED_DETECTION)
    assert query == SEED_QUERY
    assert query.count("AzureActivity") == 1


def test_negated_items_are_those_under_not_in_any_condition() -> None:
    from sigma.rule import SigmaRule

    from sigma_azure_aks.semantics import negated_items

    rule = SigmaRule.from_yaml(
        rule_yaml(
            "a:\n    caller: x\nb:\n    - callerIpAddress|cidr: 10.0.0.0/8\n      level: '4'\n"
            "c:\n    caller: z\ncondition:\n    - a and not b\n    - c"
        )
    )
    names = {
        id(item): f"{name}.{item.field}"
        for name, detection in rule.detection.detections.items()
        for sub in detection.detection_items
        for item in getattr(sub, "detection_items", [sub])
    }
    assert {names[i] for i in negated_items(rule)} == {"b.callerIpAddress", "b.level"}
