"""The three renderings of an analytics rule: Azure-Sentinel YAML template, ARM template, REST body.

Output is deterministic: fixed key order in YAML (the template's customary order), sorted keys in
JSON, lists in rule order, no timestamps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import yaml
from sigma.exceptions import SigmaFeatureNotSupportedByBackendError

from .. import arm
from . import FORMATS as OUTPUT_FORMATS
from . import sentinel_facts as facts
from .model import AnalyticsRule
from .options import iso_duration, yaml_duration

ANALYTICS_FORMATS = tuple(f.name for f in OUTPUT_FORMATS if f.analytics)
_YAML_OPERATOR = {full: short for short, full in facts.TRIGGER_OPERATORS.items()}


def _entity_mappings(model: AnalyticsRule) -> list[dict[str, Any]]:
    return [
        {
            "entityType": mapping.entity_type,
            "fieldMappings": [
                {"identifier": identifier, "columnName": column}
                for identifier, column in mapping.field_mappings
            ],
        }
        for mapping in model.entity_mappings
    ]


def _without_schedule(document: dict[str, Any], model: AnalyticsRule) -> dict[str, Any]:
    """An NRT rule's document has no schedule or trigger fields (sentinel_facts.NRT_ABSENT_FIELDS)."""
    if model.settings.kind != facts.NRT_KIND:
        return document
    return {key: value for key, value in document.items() if key not in facts.NRT_ABSENT_FIELDS}


def _api_version(model: AnalyticsRule) -> str:
    return facts.ARM_NRT_API_VERSION if model.settings.kind == facts.NRT_KIND else facts.ARM_API_VERSION


def properties(model: AnalyticsRule) -> dict[str, Any]:
    """The `properties` of a Scheduled alert rule (ARM and REST, stable API), or of an NRT rule
    (preview API: the same without schedule and trigger)."""
    return _without_schedule(_scheduled_properties(model), model)


def _scheduled_properties(model: AnalyticsRule) -> dict[str, Any]:
    s = model.settings
    assert s.kind == facts.NRT_KIND or s.query_period is not None
    return {
        "displayName": model.display_name,
        "description": model.description,
        "severity": model.severity,
        "enabled": model.enabled,
        "query": model.query,
        "queryFrequency": iso_duration(s.query_frequency),
        "queryPeriod": iso_duration(s.query_period or 0),
        "triggerOperator": s.trigger_operator,
        "triggerThreshold": s.trigger_threshold,
        "suppressionDuration": iso_duration(s.suppression_duration),
        "suppressionEnabled": s.suppression_enabled,
        "tactics": list(model.tactics),
        "techniques": list(model.techniques),
        "entityMappings": _entity_mappings(model),
        "customDetails": dict(model.custom_details),
        "alertDetailsOverride": {"alertDisplayNameFormat": model.alert_display_name_format},
        "eventGroupingSettings": {"aggregationKind": s.event_grouping},
        "incidentConfiguration": {
            "createIncident": s.create_incident,
            "groupingConfiguration": {
                "enabled": s.grouping_enabled,
                "reopenClosedIncident": s.reopen_closed_incident,
                "lookbackDuration": iso_duration(s.grouping_lookback),
                "matchingMethod": s.grouping_matching,
                "groupByEntities": [],
                "groupByAlertDetails": [],
                "groupByCustomDetails": [],
            },
        },
    }


def arm_resource_name(rule_id: str) -> str:
    """The alertRules resource name: the one expression of the output, the rule id quoted in it."""
    return f"[concat(parameters('workspace'),{arm.string_literal('/Microsoft.SecurityInsights/' + rule_id)})]"


def arm_resource(model: AnalyticsRule) -> dict[str, Any]:
    """The alertRules resource; every string of its properties is an ARM literal, never evaluated
    (a title `[listKeys(...)]` deploys as that text: :mod:`sigma_azure_aks.arm`)."""
    return {
        "type": facts.ARM_RESOURCE_TYPE,
        "apiVersion": _api_version(model),
        "name": arm_resource_name(model.rule_id),
        "kind": model.settings.kind,
        "properties": arm.literals(properties(model)),
    }


def arm_template(resources: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """An ARM deployment template (export form) holding these alertRules resources."""
    return {
        "$schema": facts.ARM_DEPLOYMENT_SCHEMA,
        "contentVersion": facts.ARM_CONTENT_VERSION,
        "parameters": {
            "workspace": {
                "type": "string",
                "metadata": {"description": "The Microsoft Sentinel workspace name"},
            }
        },
        "resources": list(resources),
    }


def rest_body(model: AnalyticsRule) -> dict[str, Any]:
    """The REST API PUT body; `name` is the rule id for the URL (.../alertRules/{name}), read-only."""
    return {"name": model.rule_id, "kind": model.settings.kind, "properties": properties(model)}


def yaml_template(model: AnalyticsRule) -> dict[str, Any]:
    """The Azure-Sentinel analytics-rule template, in the repository's customary key order."""
    s = model.settings
    document = {
        "id": model.rule_id,
        "name": model.display_name,
        "description": model.description,
        "severity": model.severity,
        "requiredDataConnectors": [{"connectorId": model.connector_id, "dataTypes": list(model.data_types)}],
        "queryFrequency": yaml_duration(s.query_frequency),
        "queryPeriod": yaml_duration(s.query_period or 0),
        "triggerOperator": _YAML_OPERATOR[s.trigger_operator],
        "triggerThreshold": s.trigger_threshold,
        "tactics": list(model.tactics),
        "relevantTechniques": list(model.relevant_techniques),
        "query": model.query,
        "entityMappings": _entity_mappings(model),
        "customDetails": dict(model.custom_details),
        "alertDetailsOverride": {"alertDisplayNameFormat": model.alert_display_name_format},
        "eventGroupingSettings": {"aggregationKind": s.event_grouping},
        "version": s.version,
        "kind": s.kind,
    }
    return _without_schedule(document, model)


class _Dumper(yaml.SafeDumper):
    """Block literals for multi-line text; lists indented under their key, as in Azure-Sentinel."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(data: Any) -> str:
    """YAML that reads back to exactly `data`. Readable Unicode where that holds; where a character
    would not survive (PyYAML writes U+0085 raw, which a reader takes for a line break), escaped."""
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=4096)
    if yaml.safe_load(text) == data:
        return text
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=False, width=4096)


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render(model: AnalyticsRule, output_format: str) -> str:
    """One rule as one complete document of the format, ending in a newline."""
    if output_format == "yaml":
        return dump_yaml(yaml_template(model))
    if output_format == "arm":
        return dump_json(arm_template([arm_resource(model)]))
    if output_format == "json":
        return dump_json(rest_body(model))
    if output_format == "defender":
        from .defender import detection_rule

        return dump_json(detection_rule(model))
    raise ValueError(f"unknown analytics-rule format {output_format!r}; known: {', '.join(ANALYTICS_FORMATS)}")


def arm_bundle(documents: Sequence[str]) -> str:
    """Several one-rule ARM templates merged into one template (resources in the given order)."""
    resources = [resource for document in documents for resource in json.loads(document)["resources"]]
    return dump_json(arm_template(resources))


def _alert_rule_names(documents: Sequence[str], output_format: str) -> list[str]:
    if output_format == "arm":
        names = [str(r["name"]) for document in documents for r in json.loads(document)["resources"]]
        return [name.rsplit("/", 1)[-1].removesuffix("')]").replace("''", "'") for name in names]
    if output_format == "json":
        return [str(json.loads(document)["name"]) for document in documents]
    return []


def _refuse_shared_names(documents: Sequence[str], output_format: str) -> None:
    """Two rules of one id would be two resources of one name: the second overwrites the first."""
    names = _alert_rule_names(documents, output_format)
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise SigmaFeatureNotSupportedByBackendError(
            f"{len(twice)} alert rule name(s) given to two rules of this conversion ({', '.join(twice)}): "
            "Sentinel names the alert rule by the Sigma id, so one would overwrite the other; give each "
            "rule an id of its own (`sigma-azure-aks export` names both files)"
        )


def combine(documents: Sequence[str], output_format: str) -> str:
    """The per-rule documents of a conversion as one valid document of the format."""
    docs = [str(document) for document in documents]
    if output_format == "yaml":
        return "".join(f"---\n{document}" for document in docs) if len(docs) > 1 else "".join(docs)
    if output_format == "arm":
        if len(docs) > facts.ARM_IMPORT_MAX_RULES:
            raise SigmaFeatureNotSupportedByBackendError(
                f"{len(docs)} rules in one ARM template, but Sentinel's Analytics > Import takes at most "
                f"{facts.ARM_IMPORT_MAX_RULES} per file. Use `sigma-azure-aks export RULES --out DIR "
                "--format arm`: one ARM template per rule plus Import-ready bundles of at most "
                f"{facts.ARM_IMPORT_MAX_RULES} (sigma-cli's --output-dir writes bare query conditions, not ARM)"
            )
        _refuse_shared_names(docs, output_format)
        return arm_bundle(docs)
    if output_format == "json":
        if len(docs) == 1:
            return docs[0]
        _refuse_shared_names(docs, output_format)
        return dump_json([json.loads(document) for document in docs])
    if output_format == "defender":
        from .defender import combine as combine_defender

        return combine_defender(docs)
    raise ValueError(f"unknown analytics-rule format {output_format!r}; known: {', '.join(ANALYTICS_FORMATS)}")
