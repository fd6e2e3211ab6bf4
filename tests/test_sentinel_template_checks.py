"""Microsoft Sentinel's own pull-request checks for analytics-rule templates, re-implemented, and run
over every YAML template that `sigma-azure-aks export` makes of the corpora.

The checks come from Azure/Azure-Sentinel, `.script/tests/detectionTemplateSchemaValidation/`:

* DetectionTemplateSchemaValidationTests.cs -- `Validate_DetectionTemplates_HasValidTemplateStructure`
  (the model below), `..._HasValidConnectorIds` (ValidConnectorIds.json) and
  `..._NoSameTemplateIdTwice`;
* Models/AnalyticsTemplateInternalModelBase.cs -- `id` a GUID, `kind`, `name` <= 256, `description`
  <= 5000, `tactics` of the AttackTactic enum;
* Models/ScheduledTemplateInternalModel.cs -- `requiredDataConnectors`, `severity`, `query` 1..10000,
  `queryFrequency`/`queryPeriod` 5m..14d, `triggerOperator`, `triggerThreshold` 0..10000,
  `customDetails`, `entityMappings` (ValidEntityMappings: 1..5 entities, 1..3 fields each);
* Models/DataConnectorInternalModel.cs -- `dataTypes` required;
* Models/ModelValidationAttributes/PeriodGreaterThanOrEqualFrequencyAttribute.cs and the 2-day
  frequency rule, QueryBasedTemplateVersionValidator.cs, EntityMappingIdentifiers.cs;
* Models/ModelValidationAttributes/NoTechniquesWithoutMatchingTactics.cs with KillChainTechniquesHelper.cs
  -- each relevant technique (sub-technique stripped) must be in Sentinel's map and EVERY tactic the
  map gives it must be in `tactics`.

Their facts are read from ../shared/reference/sentinel/template_rules.json (derived from those files),
not from the package, so the package's copy of them is checked too. One more check the portal makes
rather than the PR tests: each `dataTypes` entry is a data type its connector declares, as in the
connector definitions of Azure-Sentinel (the package's `sources/connectors.py`, which
`registry.problems()` also holds every source's analytics profile to).
"""

from __future__ import annotations

import json
import re
import uuid
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from conftest import REPO_ROOT, shared_dir

from sigma_azure_aks.commands import main
from sigma_azure_aks.sources.connectors import CONNECTOR_DATA_TYPES

# (corpus folder or rules/, pipeline options): every export the corpora take.
EXPORTS = [
    ("sigmahq/activitylogs", []),
    ("sigmahq/activitylogs", ["-p", "aks_dataplane"]),
    ("sigmahq/kubernetes_audit", []),
    ("sigmahq/kubernetes_audit", ["-p", "aks_audit_admin"]),
    ("sigmahq/auditlogs", []),
    ("sigmahq/signinlogs", []),
    ("sigmahq/signinlogs", ["-p", "azure_signinlogs_all"]),
    ("sigmahq/riskdetection", []),
    ("sigmahq/m365_audit", []),
    ("rules", []),
    ("rules", ["-p", "aks_dataplane"]),
]

DURATION = re.compile(r"^(\d+)([mhd])$")
MINUTES = {"m": 1, "h": 60, "d": 24 * 60}
TECHNIQUE = re.compile(r"^T\d{4}(?:\.\d{3})?$")
PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")


def reference() -> dict[str, Any]:
    folder = shared_dir()
    path = folder / "reference" / "sentinel" / "template_rules.json" if folder else None
    if path is None or not path.is_file():
        pytest.skip("Sentinel template facts not found (../shared/reference/sentinel/template_rules.json)")
    return json.loads(path.read_text(encoding="utf-8"))


def tactics_by_technique(facts: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for tactic, techniques in facts["technique_to_tactics_map_KillChainTechniquesHelper"].items():
        for technique in techniques:
            found.setdefault(technique, set()).add(tactic)
    return found


def minutes(value: Any) -> int | None:
    match = DURATION.fullmatch(str(value))
    return int(match.group(1)) * MINUTES[match.group(2)] if match else None


def _structure(doc: dict[str, Any], facts: dict[str, Any]) -> Iterator[str]:
    for key in ("id", "kind", "name", "description", "severity", "query", "requiredDataConnectors"):
        if key not in doc:
            yield f"missing {key}"
    try:
        uuid.UUID(str(doc.get("id")))
    except ValueError:
        yield f"id {doc.get('id')!r} is not a GUID"
    if doc.get("kind") not in facts["kinds"]:
        yield f"kind {doc.get('kind')!r}"
    if len(str(doc.get("name", ""))) > facts["name_maxLength"]:
        yield "name too long"
    if len(str(doc.get("description", ""))) > facts["description_maxLength"]:
        yield "description too long"
    if doc.get("severity") not in facts["severity"]:
        yield f"severity {doc.get('severity')!r}"
    low, high = facts["query_length"]
    if not low <= len(str(doc.get("query", ""))) <= high:
        yield "query length"
    for tactic in doc.get("tactics") or []:
        if tactic not in facts["tactics_AttackTactic_REST_enum"]:
            yield f"tactic {tactic!r}"
    if "version" in doc:
        version = str(doc["version"])
        if not re.fullmatch(facts["version_regex"], version) or len(version) > facts["version_maxLength"]:
            yield f"version {version!r}"


# Fields of the scheduled template model (ScheduledTemplateInternalModel) that the NRT one lacks.
SCHEDULE_FIELDS = ("queryFrequency", "queryPeriod", "triggerOperator", "triggerThreshold")


def _schedule(doc: dict[str, Any], facts: dict[str, Any]) -> Iterator[str]:
    if doc.get("kind") == "NRT":
        yield from (f"NRT template with {name}" for name in SCHEDULE_FIELDS if name in doc)
        return
    frequency, period = minutes(doc.get("queryFrequency")), minutes(doc.get("queryPeriod"))
    low, high = 5, 14 * 24 * 60
    for name, value in (("queryFrequency", frequency), ("queryPeriod", period)):
        if value is None or not low <= value <= high:
            yield f"{name} {doc.get(name)!r}"
    if frequency is not None and period is not None:
        if period < frequency:
            yield "queryPeriod < queryFrequency"
        if period >= 2 * 24 * 60 and frequency < 60:
            yield "queryPeriod >= 2d needs queryFrequency >= 1h"
    if doc.get("triggerOperator") not in facts["triggerOperator_yaml"]:
        yield f"triggerOperator {doc.get('triggerOperator')!r}"
    low, high = facts["triggerThreshold_range"]
    if not isinstance(doc.get("triggerThreshold"), int) or not low <= doc["triggerThreshold"] <= high:
        yield f"triggerThreshold {doc.get('triggerThreshold')!r}"


def _techniques(doc: dict[str, Any], facts: dict[str, Any]) -> Iterator[str]:
    known = tactics_by_technique(facts)
    tactics = set(doc.get("tactics") or [])
    for technique in doc.get("relevantTechniques") or []:
        if not TECHNIQUE.fullmatch(str(technique)):
            yield f"technique {technique!r} format"
            continue
        wanted = known.get(str(technique).split(".")[0], set())
        if not wanted or not wanted <= tactics:
            yield f"No valid tactic corresponding to the technique {technique} was provided in the tactics field"


def _connectors(doc: dict[str, Any]) -> Iterator[str]:
    for connector in doc.get("requiredDataConnectors") or []:
        declared = CONNECTOR_DATA_TYPES.get(connector.get("connectorId"))
        if declared is None:
            yield f"connectorId {connector.get('connectorId')!r} is not a valid connector id"
            continue
        data_types = connector.get("dataTypes")
        if not data_types:
            yield f"{connector['connectorId']}: dataTypes missing"
        for data_type in data_types or []:
            if data_type not in declared:
                yield f"{connector['connectorId']}: data type {data_type!r} is not one the connector declares"


def _entities(doc: dict[str, Any], facts: dict[str, Any]) -> Iterator[str]:
    rules = facts["entityMappings"]
    mappings = doc.get("entityMappings")
    if mappings is None:
        return
    if not 1 <= len(mappings) <= rules["maxEntities_older_validator"]:
        yield f"{len(mappings)} entity mappings"
    for mapping in mappings:
        entity = facts["entity_identifiers"].get(mapping.get("entityType"))
        if entity is None:
            yield f"entityType {mapping.get('entityType')!r}"
            continue
        fields = mapping.get("fieldMappings") or []
        low, high = rules["fieldMappingsPerEntity"]
        if not low <= len(fields) <= high:
            yield f"{mapping['entityType']}: {len(fields)} field mappings"
        identifiers = [field.get("identifier") for field in fields]
        if len(set(identifiers)) != len(identifiers):
            yield f"{mapping['entityType']}: identifier mapped twice"
        for field in fields:
            if field.get("identifier") not in entity["identifiers"]:
                yield f"{mapping['entityType']}: identifier {field.get('identifier')!r}"
            column = str(field.get("columnName", ""))
            if (
                not re.fullmatch(rules["columnNameRegex"], column)
                or len(column) > rules["columnNameMaxLength"]
            ):
                yield f"{mapping['entityType']}: columnName {column!r}"
        if not any(set(group) <= set(identifiers) for group in entity["required_any_of"]):
            yield f"{mapping['entityType']}: no strong identifier"


def _details(doc: dict[str, Any], facts: dict[str, Any]) -> Iterator[str]:
    rules = facts["customDetails"]
    details = doc.get("customDetails") or {}
    if len(details) > rules["maxPairs"]:
        yield "too many customDetails"
    for key, value in details.items():
        if not re.fullmatch(rules["keyRegex"], str(key)) or len(str(key)) > rules["keyMaxLength"]:
            yield f"customDetails key {key!r}"
        if not re.fullmatch(rules["valueRegex"], str(value)) or len(str(value)) > rules["valueMaxLength"]:
            yield f"customDetails value {value!r}"
    override = doc.get("alertDetailsOverride") or {}
    limits = facts["alertDetailsOverride"]
    name_format = str(override.get("alertDisplayNameFormat", ""))
    if len(name_format) > limits["alertDisplayNameFormat_maxLength"]:
        yield "alertDisplayNameFormat too long"
    if len(PLACEHOLDER.findall(name_format)) > limits["maxPlaceholders_each"]:
        yield "alertDisplayNameFormat placeholders"
    grouping = (doc.get("eventGroupingSettings") or {}).get("aggregationKind")
    if grouping is not None and grouping not in facts["eventGroupingSettings.aggregationKind"]:
        yield f"aggregationKind {grouping!r}"


def template_problems(doc: dict[str, Any], facts: dict[str, Any]) -> list[str]:
    """What Sentinel's template checks say about one YAML template (nothing when it passes)."""
    return [
        *_structure(doc, facts),
        *_schedule(doc, facts),
        *_techniques(doc, facts),
        *_connectors(doc),
        *_entities(doc, facts),
        *_details(doc, facts),
    ]


def duplicate_ids(docs: list[tuple[str, dict[str, Any]]]) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for label, doc in docs:
        seen.setdefault(str(doc.get("id")), []).append(label)
    return {template_id: labels for template_id, labels in seen.items() if len(labels) > 1}


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, dict[str, Any]]]:
    """(label, YAML template) of every export in EXPORTS."""
    shared = shared_dir()
    if shared is None:
        pytest.skip("shared corpus not found (set SIGMA_AZURE_AKS_SHARED)")
    found = []
    for source, options in EXPORTS:
        folder = REPO_ROOT / source if source == "rules" else shared / "corpus" / source
        out = tmp_path_factory.mktemp("export")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            main(["export", str(folder), "--out", str(out), "--format", "yaml", *options])
        label = " ".join([source, *options])
        for path in sorted((out / "yaml").glob("*.yaml")):
            found.append((f"{label}: {path.name}", yaml.safe_load(path.read_text(encoding="utf-8"))))
    return found


@pytest.mark.slow  # the templates fixture exports every corpus
def test_every_exported_template_passes_sentinels_checks(
    templates: list[tuple[str, dict[str, Any]]], report
) -> None:
    facts = reference()
    failures = {label: problems for label, doc in templates if (problems := template_problems(doc, facts))}
    assert failures == {}
    report(f"Sentinel template checks: {len(templates)} YAML templates from {len(EXPORTS)} exports pass")
    assert len(templates) >= 35 * 2 + 16 * 2


@pytest.mark.slow  # the templates fixture exports every corpus
def test_no_template_id_twice_in_an_export(templates: list[tuple[str, dict[str, Any]]]) -> None:
    # NoSameTemplateIdTwice, over the templates one export writes (one repository folder)
    by_export: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for label, doc in templates:
        by_export.setdefault(label.split(": ")[0], []).append((label, doc))
    assert {export: duplicate_ids(docs) for export, docs in by_export.items()} == {e: {} for e in by_export}


@pytest.mark.slow  # the templates fixture exports every corpus
def test_one_template_id_means_one_query_across_all_exports(
    templates: list[tuple[str, dict[str, Any]]],
) -> None:
    # Across exports through different pipelines an id may recur only for the very same query.
    queries: dict[str, set[str]] = {}
    for _, doc in templates:
        queries.setdefault(doc["id"], set()).add(doc["query"])
    assert {template_id: q for template_id, q in queries.items() if len(q) > 1} == {}


@pytest.mark.slow  # the templates fixture exports every corpus
def test_a_rule_through_two_pipelines_keeps_its_sigma_id_once(
    templates: list[tuple[str, dict[str, Any]]],
) -> None:
    plain = {doc["id"] for label, doc in templates if label.startswith("sigmahq/activitylogs: ")}
    dataplane = [doc for label, doc in templates if label.startswith("sigmahq/activitylogs -p aks_dataplane")]
    moved = [doc for doc in dataplane if doc["query"].startswith("AKSAudit")]
    assert moved, "aks_dataplane moved no rule to AKSAudit"
    for doc in moved:
        sigma_id = re.search(r"Sigma rule (\S+) by", doc["description"]).group(1)
        assert sigma_id in plain
        assert doc["id"] == str(uuid.uuid5(uuid.UUID(sigma_id), "AKSAudit"))
    unmoved = [doc for doc in dataplane if doc["query"].startswith("AzureActivity")]
    assert unmoved and all(doc["id"] in plain for doc in unmoved)


NRT_EXPORTS = [("sigmahq/activitylogs", []), ("sigmahq/signinlogs", []), ("rules", [])]


def test_nrt_exports_pass_sentinels_checks(tmp_path: Any) -> None:
    """`-O kind=nrt`: every single-event rule is an NRT template (no schedule, no trigger, the rule's
    query alone); what NRT cannot run (correlations) is refused, not exported."""
    shared = shared_dir()
    if shared is None:
        pytest.skip("shared corpus not found (set SIGMA_AZURE_AKS_SHARED)")
    facts = reference()
    found = []
    for index, (source, options) in enumerate(NRT_EXPORTS):
        folder = REPO_ROOT / source if source == "rules" else shared / "corpus" / source
        out = tmp_path / str(index)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            main(["export", str(folder), "--out", str(out), "--format", "yaml", "-O", "kind=nrt", *options])
        found += [(f"{source}: {p.name}", yaml.safe_load(p.read_text())) for p in sorted((out / "yaml").glob("*"))]
    assert len(found) >= 35 + 19
    assert {label: problems for label, doc in found if (problems := template_problems(doc, facts))} == {}
    assert {doc["kind"] for _, doc in found} == {"NRT"}
    assert not any("ingestion_time" in doc["query"] for _, doc in found)
    assert not any(label.startswith("rules: mass-azure-resource-deletion") for label, _ in found)


# ---- the checks themselves catch what they are for ------------------------------------------------

GOOD = {
    "id": "5f0c8a47-1c2d-4e7f-9a3b-0c1d2e3f4a5b",
    "name": "n",
    "description": "d",
    "severity": "Medium",
    "requiredDataConnectors": [{"connectorId": "AzureKubernetes", "dataTypes": ["kube-audit"]}],
    "queryFrequency": "1h",
    "queryPeriod": "90m",
    "triggerOperator": "gt",
    "triggerThreshold": 0,
    "tactics": ["PrivilegeEscalation"],
    "relevantTechniques": ["T1611"],
    "query": "AKSAudit",
    "entityMappings": [
        {"entityType": "IP", "fieldMappings": [{"identifier": "Address", "columnName": "SourceIp"}]}
    ],
    "version": "1.0.0",
    "kind": "Scheduled",
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"relevantTechniques": ["T1686.001"]}, "technique T1686.001"),
        ({"relevantTechniques": ["T1685"]}, "technique T1685"),
        ({"relevantTechniques": ["T1078.004"]}, "technique T1078.004"),  # wants all four tactics
        (
            {"requiredDataConnectors": [{"connectorId": "AzureKubernetes", "dataTypes": ["AKSAudit"]}]},
            "data type 'AKSAudit'",
        ),
        ({"requiredDataConnectors": [{"connectorId": "Nope", "dataTypes": ["x"]}]}, "connectorId 'Nope'"),
        ({"queryFrequency": "2h"}, "queryPeriod < queryFrequency"),
        ({"tactics": ["Stealth"], "relevantTechniques": []}, "tactic 'Stealth'"),
        ({"id": "not-a-guid"}, "not a GUID"),
        ({"version": "1.0"}, "version '1.0'"),
        ({"kind": "NRT"}, "NRT template with queryFrequency"),
        ({"kind": "Nrt"}, "kind 'Nrt'"),
    ],
)
def test_the_checks_catch_what_sentinel_rejects(change: dict[str, Any], problem: str) -> None:
    facts = reference()
    assert template_problems(GOOD, facts) == []
    problems = template_problems({**GOOD, **change}, facts)
    assert any(problem in found for found in problems), problems


def test_duplicate_ids_are_found() -> None:
    assert duplicate_ids([("a", GOOD), ("b", dict(GOOD))]) == {GOOD["id"]: ["a", "b"]}


def test_connector_facts_cite_files_that_declare_them() -> None:
    # the package's profiles use only connectors and data types listed here
    from sigma_azure_aks.sources import all_sources

    profiles = [source.profile for source in all_sources() if source.profile is not None]
    assert profiles
    for profile in profiles:
        assert set(profile.data_types) <= CONNECTOR_DATA_TYPES[profile.connector_id], profile.table


def test_a_union_export_requires_every_table_it_searches(
    templates: list[tuple[str, dict[str, Any]]],
) -> None:
    plain = {doc["name"]: doc for label, doc in templates if label.startswith("sigmahq/signinlogs: ")}
    union = [doc for label, doc in templates if label.startswith("sigmahq/signinlogs -p azure_signinlogs_all")]
    assert union and len(union) == len(plain)
    for doc in union:
        assert doc["query"].startswith("union isfuzzy=true SigninLogs")
        (connector,) = doc["requiredDataConnectors"]
        assert connector["dataTypes"] == [
            "SigninLogs",
            "AADNonInteractiveUserSignInLogs",
            "AADServicePrincipalSignInLogs",
            "AADManagedIdentitySignInLogs",
        ]
        assert doc["id"] != plain[doc["name"]]["id"]  # another query, another template
