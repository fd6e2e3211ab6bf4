"""Build and convert one-rule Sigma documents in tests."""

from __future__ import annotations

import textwrap
import warnings

from sigma.backends.kusto import KustoBackend
from sigma.collection import SigmaCollection
from sigma.processing.pipeline import ProcessingPipeline

from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.pipelines import azure_activity_pipeline

RULE_ID = "5b5b4d3c-0f6e-4a53-9a56-2b9d3c0c7b11"


def rule_yaml(detection: str, logsource: str = "product: azure\n  service: activitylogs") -> str:
    """A complete rule around a `detection:` body given as YAML text (indented by the caller or not)."""
    body = textwrap.indent(textwrap.dedent(detection).strip("\n"), "  ")
    return (
        f"title: Test rule\nid: {RULE_ID}\nstatus: test\nauthor: tests\n"
        f"logsource:\n  {logsource}\ndetection:\n{body}\nlevel: medium\n"
    )


def to_sentinel(detection: str, pipeline: ProcessingPipeline | None = None, **kwargs: str) -> str:
    backend = SentinelBackend(pipeline)
    [query] = backend.convert(SigmaCollection.from_yaml(rule_yaml(detection, **kwargs)))
    return query


def to_stock_kusto(detection: str, **kwargs: str) -> str:
    backend = KustoBackend(azure_activity_pipeline())
    [query] = backend.convert(SigmaCollection.from_yaml(rule_yaml(detection, **kwargs)))
    return query


def where(query: str, table: str = "AzureActivity") -> str:
    """The condition of `<table>\\n| where <condition>`, checking the header on the way."""
    header = f"{table}\n| where "
    assert query.startswith(header), query
    return query[len(header) :]


def source_rule(product: str, service: str, detection: str, condition: str = "sel", rule_id: str = RULE_ID) -> str:
    """A minimal rule (title `t`) of one log source around `detection` lines (selections at the
    detection's level, written unindented by the caller)."""
    body = "\n".join("    " + line for line in detection.strip("\n").splitlines())
    return (
        f"title: t\nid: {rule_id}\nlogsource:\n    product: {product}\n    service: {service}\n"
        f"detection:\n{body}\n    condition: {condition}\n"
    )


def convert_quietly(text: str, output_format: str = "default") -> str:
    """The one output of `-t sentinel` for a one-rule text, its warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = SentinelBackend().convert(SigmaCollection.from_yaml(text), output_format)
    if isinstance(result, list):
        (result,) = result
    return str(result)
