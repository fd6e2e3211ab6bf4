"""Sentinel analytics rules from Sigma rules: formats yaml, arm, json of the `sentinel` target.

Small rules inline; the SigmaHQ corpus and Sentinel's ARM schema from the shared folder (skipped
when absent). Query columns are checked with Microsoft's KQL parser where node has it.
"""

from __future__ import annotations

import json
import re
import textwrap
import warnings
from pathlib import Path

import pytest
import yaml
from conftest import shared_path
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError

from sigma_azure_aks.analytics import combine_output, render_rule
from sigma_azure_aks.analytics import sentinel_facts as facts
from sigma_azure_aks.analytics.model import (
    SentinelMappingWarning,
    attack_mapping,
    build_rule,
    description_for,
    table_profile,
)
from sigma_azure_aks.analytics.options import iso_duration, parse_duration, yaml_duration
from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.sources import all_sources

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED_ID = "1c71e254-6655-42c1-b2d6-5e4718d7fc0a"
RULE_ID = "5b5b4d3c-0f6e-4a53-9a56-2b9d3c0c7b11"
SEED_QUERY = (
    "AzureActivity\n"
    '| where (OperationNameValue startswith "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/BATCH" or '
    'OperationNameValue startswith "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/BATCH") and '
    '(OperationNameValue endswith "/CRONJOBS/WRITE" or OperationNameValue endswith "/JOBS/WRITE")'
)
# The analytics rule's query: the run's ingestion bound first (one alert per event), then the rule.
SEED_RULE_QUERY = SEED_QUERY.replace("AzureActivity\n", "AzureActivity\n| where ingestion_time() > ago(1h)\n", 1)
AZURE_ACTIVITY_EXTEND = (
    '| extend AccountUpn = iff(Caller contains "@", Caller, ""), AccountObjectId = iff(Caller matches regex '
    '"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", Caller, "")'
)


def corpus_files() -> list[Path]:
    return sorted(shared_path("corpus", "sigmahq", "activitylogs").glob("*.yml"))


def rule_text(extra: str = "", status: str = "test", level: str = "medium", tags: str = "") -> str:
    tag_block = ("tags:\n" + textwrap.indent(textwrap.dedent(tags).strip(), "  ") + "\n") if tags else ""
    return (
        f"title: Test rule\nid: {RULE_ID}\nstatus: {status}\nauthor: Jane Doe\n"
        "description: Finds deletions.\n"
        f"{tag_block}"
        "logsource:\n  product: azure\n  service: activitylogs\n"
        "detection:\n  selection:\n    operationName: MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE\n"
        f"  condition: selection\nlevel: {level}\n{extra}"
    )


def convert(text: str, fmt: str, **options: str) -> str:
    backend = SentinelBackend(**options)
    return backend.convert(SigmaCollection.from_yaml(text), fmt)


def one_rule(text: str):
    return SigmaCollection.from_yaml(text).rules[0]


def arm_schema_validator():
    """A jsonschema validator for a Scheduled alertRules resource (kind + properties) of the stored
    ARM deployment schema, its one external reference (an ARM expression) resolved locally."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(
        shared_path("reference", "sentinel", "Microsoft.SecurityInsights.2025-09-01.json").read_text()
    )
    text = json.dumps(schema).replace(
        '"https://schema.management.azure.com/schemas/common/definitions.json#/definitions/expression"',
        '"#/definitions/__arm_expression"',
    )
    schema = json.loads(text)
    schema["definitions"]["__arm_expression"] = {"type": "string", "pattern": "^\\[.*\\]$"}
    root = {
        "$schema": schema["$schema"],
        "definitions": schema["definitions"],
        "$ref": "#/definitions/ScheduledAlertRule",
    }
    cls = jsonschema.validators.validator_for(root)
    cls.check_schema(root)
    return cls(root)


def assert_arm_template(template: dict) -> None:
    """The deployment-template envelope of the ARM export form, every resource schema-valid."""
    validator = arm_schema_validator()
    assert template["$schema"] == facts.ARM_DEPLOYMENT_SCHEMA
    assert template["contentVersion"] == "1.0.0.0"
    assert template["parameters"]["workspace"]["type"] == "string"
    for resource in template["resources"]:
        assert resource["type"] == "Microsoft.OperationalInsights/workspaces/providers/alertRules"
        assert resource["apiVersion"] == "2025-09-01"
        errors = sorted(str(e.message) for e in validator.iter_errors(resource))
        assert errors == []
        props = resource["properties"]
        for key in ("queryFrequency", "queryPeriod", "suppressionDuration"):
            assert props[key].startswith("P")


# ---- the seed rule ---------------------------------------------------------------------------


def seed_text() -> str:
    return shared_path("corpus", "sigmahq", "activitylogs", "azure_kubernetes_cronjob.yml").read_text()


def test_seed_arm():
    template = json.loads(convert(seed_text(), "arm"))
    assert_arm_template(template)
    [resource] = template["resources"]
    assert resource["name"] == f"[concat(parameters('workspace'),'/Microsoft.SecurityInsights/{SEED_ID}')]"
    assert resource["kind"] == "Scheduled"
    props = resource["properties"]
    assert props["displayName"] == "Azure Kubernetes CronJob"
    assert props["tactics"] == ["Persistence", "PrivilegeEscalation", "Execution"]
    assert props["techniques"] == ["T1053"]
    assert props["severity"] == "Medium"
    assert props["enabled"] is True
    assert props["description"].endswith(
        f"\n\nSigma rule {SEED_ID} by Austin Songer @austinsonger, Detection Rule License 1.1"
    )
    assert props["description"].startswith("Identifies when a Azure Kubernetes CronJob runs in Azure Cloud.")
    assert (
        "False positives:\n- Azure Kubernetes CronJob/Job may be done by a system administrator."
        in (props["description"])
    )
    assert props["query"] == SEED_RULE_QUERY + "\n" + AZURE_ACTIVITY_EXTEND
    assert props["queryFrequency"] == "PT1H"
    assert props["queryPeriod"] == "PT1H30M"
    assert props["triggerOperator"] == "GreaterThan"
    assert props["triggerThreshold"] == 0
    assert props["suppressionEnabled"] is False
    assert props["suppressionDuration"] == "PT5H"
    assert props["entityMappings"] == [
        {
            "entityType": "Account",
            "fieldMappings": [
                {"identifier": "FullName", "columnName": "AccountUpn"},
                {"identifier": "AadUserId", "columnName": "AccountObjectId"},
            ],
        },
        {"entityType": "IP", "fieldMappings": [{"identifier": "Address", "columnName": "CallerIpAddress"}]},
        {
            "entityType": "AzureResource",
            "fieldMappings": [{"identifier": "ResourceId", "columnName": "_ResourceId"}],
        },
    ]
    assert props["alertDetailsOverride"] == {
        "alertDisplayNameFormat": "Azure Kubernetes CronJob: {{OperationNameValue}} by {{Caller}}"
    }
    assert props["eventGroupingSettings"] == {"aggregationKind": "AlertPerResult"}
    assert props["incidentConfiguration"]["createIncident"] is True
    assert props["incidentConfiguration"]["groupingConfiguration"]["matchingMethod"] == "AllEntities"


def test_seed_yaml():
    text = convert(seed_text(), "yaml")
    doc = yaml.safe_load(text)
    assert doc["id"] == SEED_ID
    assert doc["name"] == "Azure Kubernetes CronJob"
    assert doc["kind"] == "Scheduled"
    assert doc["relevantTechniques"] == ["T1053.003"]
    assert doc["tactics"] == ["Persistence", "PrivilegeEscalation", "Execution"]
    assert doc["requiredDataConnectors"] == [{"connectorId": "AzureActivity", "dataTypes": ["AzureActivity"]}]
    assert doc["queryFrequency"] == "1h"
    assert doc["queryPeriod"] == "90m"
    assert doc["triggerOperator"] == "gt"
    assert doc["triggerThreshold"] == 0
    assert doc["severity"] == "Medium"
    assert doc["version"] == "1.0.0"
    assert doc["query"] == SEED_RULE_QUERY + "\n" + AZURE_ACTIVITY_EXTEND
    assert "query: |-\n  AzureActivity\n  | where ingestion_time() > ago(1h)\n  | where (" in text  # a block literal
    assert list(doc)[:4] == ["id", "name", "description", "severity"]


def test_seed_json_is_rest_body():
    body = json.loads(convert(seed_text(), "json"))
    assert sorted(body) == ["kind", "name", "properties"]
    assert body["kind"] == "Scheduled"
    assert body["name"] == SEED_ID
    assert body["properties"]["techniques"] == ["T1053"]


def test_output_is_byte_identical_across_runs():
    for fmt in ("yaml", "arm", "json"):
        assert convert(seed_text(), fmt) == convert(seed_text(), fmt)


# ---- the whole corpus ---------------------------------------------------------------------------


@pytest.mark.slow
def test_corpus_produces_valid_arm_with_tactics():
    files = corpus_files()
    assert len(files) == 35
    validator = arm_schema_validator()
    for path in files:
        text = path.read_text()
        rule = one_rule(text)
        has_tactic_tag = any(
            t.namespace == "attack" and not facts.ATTACK_ID_TAG.match(t.name.lower()) for t in rule.tags
        )
        template = json.loads(convert(text, "arm"))
        assert_arm_template(template)
        [resource] = template["resources"]
        assert list(validator.iter_errors(resource)) == []
        assert resource["name"].endswith(f"/Microsoft.SecurityInsights/{rule.id}')]")
        props = resource["properties"]
        if has_tactic_tag:
            assert props["tactics"], path.name
        assert all(facts.ARM_TECHNIQUE.match(t) for t in props["techniques"]), path.name
        assert "Detection Rule License 1.1" in props["description"]
        assert f"by {rule.author}," in props["description"]


def test_corpus_stealth_only_rules_get_defense_evasion():
    stealth_only = []
    for path in corpus_files():
        rule = one_rule(path.read_text())
        tactic_tags = {
            t.name for t in rule.tags if t.namespace == "attack" and not facts.ATTACK_ID_TAG.match(t.name)
        }
        if tactic_tags and tactic_tags <= {"stealth", "defense-impairment"}:
            stealth_only.append(path.name)
            assert attack_mapping(rule)[0] == ("DefenseEvasion",)
    assert len(stealth_only) == 3


def test_corpus_combined_arm_is_one_template():
    text = "\n---\n".join(path.read_text() for path in corpus_files()[:5])
    template = json.loads(convert(text, "arm"))
    assert_arm_template(template)
    assert len(template["resources"]) == 5


def test_entity_and_placeholder_columns_are_returned_by_the_query(kql):
    files = corpus_files()
    checker = kql
    for path in files:
        props = json.loads(convert(path.read_text(), "arm"))["resources"][0]["properties"]
        assert [str(e) for e in checker.errors(props["query"])] == [], path.name
        columns = set(checker.result_columns(props["query"]))
        used = {m["columnName"] for e in props["entityMappings"] for m in e["fieldMappings"]}
        used |= set(props["customDetails"].values())
        used |= set(facts.PLACEHOLDER.findall(props["alertDetailsOverride"]["alertDisplayNameFormat"]))
        assert used <= columns, (path.name, used - columns)


def test_aks_profile_columns_are_returned_by_the_query(kql):
    checker = kql
    for table in ("AKSAudit", "AKSAuditAdmin"):
        profile = table_profile(table)
        query = f'{table}\n| where Verb == "create"\n{profile.extend_line}'
        assert [str(e) for e in checker.errors(query)] == []
        columns = set(checker.result_columns(query))
        used = {column for m in profile.entity_mappings for _, column in m.field_mappings}
        used |= {column for _, column in profile.custom_details}
        used |= set(facts.PLACEHOLDER.findall(profile.alert_display_name_format))
        assert used <= columns, used - columns


# ---- several rules, one document ----------------------------------------------------------------


def two_rules() -> str:
    second = (
        rule_text().replace(RULE_ID, "6b5b4d3c-0f6e-4a53-9a56-2b9d3c0c7b11").replace("Test rule", "Second")
    )
    return rule_text() + "---\n" + second


def test_combined_yaml_is_multi_document():
    docs = list(yaml.safe_load_all(convert(two_rules(), "yaml")))
    assert [d["name"] for d in docs] == ["Test rule", "Second"]


def test_combined_json_is_an_array():
    bodies = json.loads(convert(two_rules(), "json"))
    assert [b["name"] for b in bodies] == [RULE_ID, "6b5b4d3c-0f6e-4a53-9a56-2b9d3c0c7b11"]


def test_combined_arm_over_50_rules_is_refused():
    documents = [
        render_rule(
            one_rule(rule_text().replace(RULE_ID, f"5b5b4d3c-0f6e-4a53-9a56-{number:012d}")),
            "AzureActivity\n| take 1",
            "AzureActivity",
            "arm",
            {},
        )
        for number in range(51)
    ]
    with pytest.raises(SigmaError, match="at most 50 per file.*sigma-azure-aks export.*not ARM"):
        combine_output(documents, "arm")
    assert len(json.loads(combine_output(documents[:50], "arm"))["resources"]) == 50


def test_combine_empty():
    assert combine_output([], "yaml") == ""
    assert json.loads(combine_output([], "json")) == []
    assert json.loads(combine_output([], "arm"))["resources"] == []


# ---- tactics, techniques, severity, status ------------------------------------------------------


def test_tactic_tags_dash_underscore_v19_deduplicated():
    rule = one_rule(
        rule_text(
            tags="""
            - attack.privilege_escalation
            - attack.privilege-escalation
            - attack.stealth
            - attack.defense-impairment
            - attack.defense_evasion
            - attack.t1078.004
            - attack.t1078
            - attack.g0016
            """
        )
    )
    # Sentinel maps T1078 to four tactics and wants all of them: the two untagged ones follow
    assert attack_mapping(rule) == (
        ("PrivilegeEscalation", "DefenseEvasion", "InitialAccess", "Persistence"),
        ("T1078",),
        ("T1078.004", "T1078"),
    )


def test_unknown_tactic_tag_warns():
    rule = one_rule(rule_text(tags="- attack.lunch-break\n- attack.impact"))
    with pytest.warns(SentinelMappingWarning, match="attack.lunch-break"):
        assert attack_mapping(rule)[0] == ("Impact",)


def test_techniques_without_tactic_get_sentinels_tactics():
    rule = one_rule(rule_text(tags="- attack.t1098"))
    assert attack_mapping(rule) == (("Persistence",), ("T1098",), ("T1098",))


@pytest.mark.parametrize(
    ("tag", "message"),
    [("attack.t1686.001", "T1686.001 (nor its parent T1686)"), ("attack.t1685", "technique T1685 is not")],
)
def test_techniques_sentinel_does_not_know_are_dropped_with_a_warning(tag, message):
    rule = one_rule(rule_text(tags=f"- attack.impact\n- {tag}\n- attack.t1485"))
    with pytest.warns(SentinelMappingWarning, match=re.escape(message)) as caught:
        assert attack_mapping(rule) == (("Impact",), ("T1485",), ("T1485",))
    assert str(rule.id) in str(caught[0].message)


def test_technique_map_matches_the_shared_reference():
    data = json.loads(shared_path("reference", "sentinel", "template_rules.json").read_text())
    by_tactic = data["technique_to_tactics_map_KillChainTechniquesHelper"]
    expected = {}
    for tactic, techniques in by_tactic.items():
        for technique in techniques:
            expected.setdefault(technique, set()).add(tactic)
    assert {k: set(v) for k, v in facts.TACTICS_BY_TECHNIQUE.items()} == expected


@pytest.mark.parametrize(
    ("level", "severity"),
    [
        ("informational", "Informational"),
        ("low", "Low"),
        ("medium", "Medium"),
        ("high", "High"),
        ("critical", "High"),
    ],
)
def test_severity_mapping(level, severity):
    props = json.loads(convert(rule_text(level=level), "json"))["properties"]
    assert props["severity"] == severity


@pytest.mark.parametrize(("status", "enabled"), [("stable", True), ("test", True), ("experimental", False)])
def test_status_policy(status, enabled):
    assert json.loads(convert(rule_text(status=status), "json"))["properties"]["enabled"] is enabled


@pytest.mark.parametrize("status", ["deprecated", "unsupported"])
def test_deprecated_rules_are_refused(status):
    with pytest.raises(SigmaError, match=f"rule 'Test rule' .*status '{status}'"):
        convert(rule_text(status=status), "arm")


# ---- overrides ---------------------------------------------------------------------------------


def test_backend_options_override_defaults():
    props = json.loads(
        convert(
            rule_text(),
            "json",
            query_frequency="30m",
            query_period="2h",
            trigger_threshold="3",
            trigger_operator="ne",
            suppression_enabled="true",
            suppression_duration="1h",
            event_grouping="SingleAlert",
            create_incident="false",
            severity="Low",
            enabled="false",
        )
    )["properties"]
    assert (props["queryFrequency"], props["queryPeriod"]) == ("PT30M", "PT2H")
    assert (props["triggerOperator"], props["triggerThreshold"]) == ("NotEqual", 3)
    assert (props["suppressionEnabled"], props["suppressionDuration"]) == (True, "PT1H")
    assert props["eventGroupingSettings"] == {"aggregationKind": "SingleAlert"}
    assert props["incidentConfiguration"]["createIncident"] is False
    assert (props["severity"], props["enabled"]) == ("Low", False)


def test_rule_attribute_overrides_backend_options():
    text = rule_text(extra="sentinel:\n  query_frequency: 2h\n  query_period: 1d\n  severity: critical\n")
    doc = yaml.safe_load(convert(text, "yaml", query_frequency="30m", query_period="3h"))
    assert (doc["queryFrequency"], doc["queryPeriod"], doc["severity"]) == ("2h", "1d", "High")


@pytest.mark.parametrize(
    ("options", "frequency", "period", "arm_period", "bound"),
    [
        ({}, "1h", "90m", "PT1H30M", "1h"),
        ({"query_frequency": "1d"}, "1d", "1470m", "P1DT30M", "1d"),
        ({"query_frequency": "30m"}, "30m", "1h", "PT1H", "30m"),
        ({"query_frequency": "5m"}, "5m", "35m", "PT35M", "5m"),
        ({"query_frequency": "13d23h30m"}, "20130m", "14d", "P14D", "20130m"),
        ({"query_period": "3h"}, "1h", "3h", "PT3H", "1h"),
        ({"query_frequency": "2h", "query_period": "2h"}, "2h", "2h", "PT2H", "2h"),
    ],
)
def test_query_period_follows_query_frequency_and_the_query_reads_one_run_of_ingestion(
    options, frequency, period, arm_period, bound
):
    doc = yaml.safe_load(convert(rule_text(), "yaml", **options))
    assert (doc["queryFrequency"], doc["queryPeriod"]) == (frequency, period)
    lines = doc["query"].split("\n")
    assert lines[1] == f"| where ingestion_time() > ago({bound})"
    assert lines[0] == "AzureActivity" and lines[2].startswith("| where ") and "ingestion_time" not in lines[2]
    props = json.loads(convert(rule_text(), "json", **options))["properties"]
    assert props["queryPeriod"] == arm_period and props["query"] == doc["query"]
    # the plain query (Logs, replay) is the rule's alone
    assert "ingestion_time" not in str(convert(rule_text(), "default", **options))


def test_unknown_rule_attribute_key_is_an_error():
    with pytest.raises(
        SigmaError,
        match="rule attribute `sentinel:` 'query_freq' is not an analytics-rule setting; did you mean 'query_frequency'",
    ):
        convert(rule_text(extra="sentinel:\n  query_freq: 2h\n"), "yaml")


def test_unknown_backend_option_is_refused_naming_it_and_the_known_ones():
    with pytest.warns(UserWarning) as warned, pytest.raises(TypeError) as refused:
        convert(rule_text(), "json", query_freqency="1d")
    # sigma-cli reads the key between the first two quotes of a TypeError (its usage error names it)
    assert str(refused.value).split("'")[1] == "query_freqency"
    assert [str(w.message) for w in warned] == [
        "backend option 'query_freqency' is not an analytics-rule setting; did you mean 'query_frequency'? "
        "(docs/formats.md lists the settings)"
    ]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"query_frequency": "2m"}, "query_frequency 2m is outside Sentinel's 5m to 14d"),
        ({"query_period": "15d"}, "query_period 15d is outside Sentinel's 5m to 14d (query_frequency 1h)"),
        (
            {"query_frequency": "2h", "query_period": "1h"},
            "query_period 1h is shorter than query_frequency 2h: events between runs would never be read; give "
            "query_period at least query_frequency, or leave it out (it follows query_frequency + 30m)",
        ),
        (
            {"query_frequency": "30m", "query_period": "2d"},
            "query_period 2d with query_frequency 30m: Sentinel runs a rule reading 2d or more at most every 1h; "
            "raise query_frequency or shorten query_period",
        ),
        (
            {"query_frequency": "14d"},
            "query_frequency 14d leaves no room for query_period: it follows query_frequency + 30m ingestion "
            "margin (14d30m), beyond Sentinel's 14d; run at most every 13d23h30m, or give query_period (at most "
            "14d; the margin is query_period - query_frequency)",
        ),
        (
            {"query_frequency": "13d", "query_period": "2h"},
            "query_period 2h is shorter than query_frequency 13d",
        ),
        ({"trigger_threshold": "10001"}, "trigger_threshold must be 0 to 10000"),
        ({"trigger_threshold": "-1"}, "not a whole number"),
        ({"severity": "Severe"}, "severity: 'Severe' is not one of"),
        ({"query_frequency": "soon"}, "is not a duration"),
        (
            {"grouping_matching": "Selected"},
            "grouping_matching: 'Selected' is not one of AllEntities, AnyAlert",
        ),
    ],
)
def test_invalid_settings_are_refused(options, message):
    with pytest.raises(SigmaError, match=re.escape(message)):
        convert(rule_text(), "arm", **options)


def test_durations():
    assert [parse_duration(v, "x") for v in ("5m", "1h", "1h30m", "2d", "PT1H30M", "P1D", "P1DT2H")] == [
        5,
        60,
        90,
        2880,
        90,
        1440,
        1560,
    ]
    assert [iso_duration(m) for m in (5, 60, 90, 1440, 1560, 20160)] == [
        "PT5M",
        "PT1H",
        "PT1H30M",
        "P1D",
        "P1DT2H",
        "P14D",
    ]
    assert [yaml_duration(m) for m in (5, 60, 90, 1440, 20160)] == ["5m", "1h", "90m", "1d", "14d"]


# ---- limits ------------------------------------------------------------------------------------


def test_long_description_keeps_the_attribution():
    text = rule_text().replace("description: Finds deletions.", "description: " + "x" * 6000)
    description = description_for(one_rule(text))
    assert len(description) == 5000
    assert description.endswith(f" [...]\n\nSigma rule {RULE_ID} by Jane Doe, Detection Rule License 1.1")


def test_long_title_is_shortened_in_the_alert_name():
    text = rule_text().replace("title: Test rule", "title: " + "T" * 256)
    props = json.loads(convert(text, "json"))["properties"]
    assert props["displayName"] == "T" * 256
    alert_name = props["alertDetailsOverride"]["alertDisplayNameFormat"]
    assert len(alert_name) == 256
    assert alert_name.endswith("T [...]: {{OperationNameValue}} by {{Caller}}")


def test_rule_license_is_kept():
    assert json.loads(convert(rule_text(extra="license: MIT\n"), "json"))["properties"][
        "description"
    ].endswith(f"Sigma rule {RULE_ID} by Jane Doe, MIT")


def test_query_over_10000_characters_is_refused():
    rule = one_rule(rule_text())
    with pytest.raises(ValueError, match="the query is 10[0-9]{3} characters; Sentinel accepts 1 to 10000"):
        build_rule(rule, "AzureActivity\n| where " + "x" * 10000, "AzureActivity", {})


def test_unknown_table_is_a_clear_error():
    with pytest.raises(
        ValueError, match="no analytics-rule profile for table 'Syslog'.*AKSAudit, AKSAuditAdmin"
    ):
        build_rule(one_rule(rule_text()), "Syslog | take 1", "Syslog", {})


def test_rule_without_id_is_refused():
    text = rule_text().replace(f"id: {RULE_ID}\n", "")
    with pytest.raises(ValueError, match="no `id`"):
        build_rule(one_rule(text), "AzureActivity", "AzureActivity", {})


def test_aks_profiles_render():
    # data types as the AzureKubernetes connector declares them (its diagnostic log categories)
    for table, data_type in (("AKSAudit", "kube-audit"), ("AKSAuditAdmin", "kube-audit-admin")):
        model = build_rule(one_rule(rule_text()), f'{table}\n| where Verb == "create"', table, {})
        doc = yaml.safe_load(
            render_rule(one_rule(rule_text()), f'{table}\n| where Verb == "create"', table, "yaml", {})
        )
        assert doc["requiredDataConnectors"] == [{"connectorId": "AzureKubernetes", "dataTypes": [data_type]}]
        assert model.query.endswith(
            "| extend AccountName = tostring(User.username), SourceIp = tostring(SourceIps[0]), "
            "KubeResource = tostring(ObjectRef.resource), KubeNamespace = tostring(ObjectRef.namespace), "
            "KubeObject = tostring(ObjectRef.name)"
        )
        assert [(m.entity_type, m.field_mappings) for m in model.entity_mappings] == [
            ("Account", (("Name", "AccountName"),)),
            ("IP", (("Address", "SourceIp"),)),
            ("AzureResource", (("ResourceId", "_ResourceId"),)),
        ]


def test_profiles_satisfy_sentinel_rules():
    for profile in (source.profile for source in all_sources() if source.profile):
        for mapping in profile.entity_mappings:
            entity = facts.ENTITY_TYPES[mapping.entity_type]
            assert all(identifier in entity.identifiers for identifier, _ in mapping.field_mappings)


def test_facts_match_the_shared_reference():
    data = json.loads(shared_path("reference", "sentinel", "template_rules.json").read_text())
    assert list(facts.SEVERITIES) == data["severity"]
    assert list(facts.TACTICS) == data["tactics_AttackTactic_REST_enum"]
    assert dict(facts.TRIGGER_OPERATORS) == data["triggerOperator_yaml"]
    assert list(facts.TRIGGER_THRESHOLD_RANGE) == data["triggerThreshold_range"]
    assert (facts.NAME_MAX, facts.DESCRIPTION_MAX) == (data["name_maxLength"], data["description_maxLength"])
    assert list(facts.QUERY_LENGTH_RANGE) == data["query_length"]
    assert facts.CUSTOM_DETAILS_KEY.pattern == data["customDetails"]["keyRegex"]
    assert facts.COLUMN_NAME.pattern == data["entityMappings"]["columnNameRegex"]
    assert facts.ENTITY_MAPPINGS_RANGE[1] == data["entityMappings"]["maxEntities_current"]
    assert list(facts.FIELD_MAPPINGS_PER_ENTITY_RANGE) == data["entityMappings"]["fieldMappingsPerEntity"]
    assert facts.ALERT_PLACEHOLDERS_MAX == data["alertDetailsOverride"]["maxPlaceholders_each"]
    assert list(facts.EVENT_GROUPING_KINDS) == data["eventGroupingSettings.aggregationKind"]
    assert {
        name: (list(e.identifiers), [list(g) for g in e.required_any_of])
        for name, e in facts.ENTITY_TYPES.items()
    } == {name: (e["identifiers"], e["required_any_of"]) for name, e in data["entity_identifiers"].items()}


def test_no_mapping_warning_for_the_seed():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", SentinelMappingWarning)
        convert(seed_text(), "arm")


def aks_audit_conversions():
    """(file name, ARM template) of every kubernetes/audit corpus rule with the aks_audit pipeline."""
    from sigma_azure_aks.pipelines import all_pipelines

    if "aks_audit" not in all_pipelines():
        pytest.skip("aks_audit pipeline not available")
    folder = shared_path("corpus", "sigmahq", "kubernetes_audit")
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in sorted(folder.glob("*.yml")):
            backend = SentinelBackend(all_pipelines()["aks_audit"]())
            results.append(
                (path.name, json.loads(backend.convert(SigmaCollection.from_yaml(path.read_text()), "arm")))
            )
    return results


@pytest.mark.slow
def test_aks_audit_corpus_produces_valid_arm():
    conversions = aks_audit_conversions()
    assert len(conversions) == 16
    for name, template in conversions:
        assert_arm_template(template)
        [resource] = template["resources"]
        assert resource["properties"]["query"].startswith("AKSAudit"), name
        assert resource["properties"]["entityMappings"][0]["fieldMappings"] == [
            {"identifier": "Name", "columnName": "AccountName"}
        ]


def test_aks_audit_corpus_columns_are_returned_by_the_query(kql):
    conversions = aks_audit_conversions()
    checker = kql
    for name, template in conversions:
        props = template["resources"][0]["properties"]
        assert [str(e) for e in checker.errors(props["query"])] == [], name
        columns = set(checker.result_columns(props["query"]))
        used = {m["columnName"] for e in props["entityMappings"] for m in e["fieldMappings"]}
        used |= set(props["customDetails"].values())
        used |= set(facts.PLACEHOLDER.findall(props["alertDetailsOverride"]["alertDisplayNameFormat"]))
        assert used <= columns, (name, used - columns)


# ---- near-real-time rules (-O kind=nrt) -------------------------------------------------------------


def test_nrt_rule_in_every_format_has_no_schedule_and_the_rules_query_alone(kql):
    text = rule_text()
    plain = str(convert(text, "default")[0])
    template = yaml.safe_load(convert(text, "yaml", kind="nrt"))
    assert template["kind"] == "NRT"
    assert not set(facts.NRT_ABSENT_FIELDS) & set(template)
    assert template["query"] == plain + "\n" + AZURE_ACTIVITY_EXTEND
    assert kql.errors(template["query"]) == []
    body = json.loads(convert(text, "json", kind="NRT"))
    assert body["kind"] == "NRT" and body["properties"]["query"] == template["query"]
    assert not set(facts.NRT_ABSENT_FIELDS) & set(body["properties"])
    resource = json.loads(convert(text, "arm", kind="nrt"))["resources"][0]
    assert (resource["kind"], resource["apiVersion"]) == ("NRT", facts.ARM_NRT_API_VERSION)
    assert not set(facts.NRT_ABSENT_FIELDS) & set(resource["properties"])
    # the rest of the rule is the scheduled one's
    scheduled = json.loads(convert(text, "json"))["properties"]
    assert {k: v for k, v in scheduled.items() if k not in facts.NRT_ABSENT_FIELDS and k != "query"} == {
        k: v for k, v in body["properties"].items() if k != "query"
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"kind": "nrt", "query_frequency": "1d"},
            "kind NRT with query_frequency: a near-real-time rule runs every minute over the newly ingested rows "
            "and alerts on every result, with no schedule or trigger; leave it out, or use kind Scheduled",
        ),
        (
            {"kind": "nrt", "query_period": "2h", "trigger_threshold": "3"},
            "kind NRT with query_period, trigger_threshold: a near-real-time rule",
        ),
        ({"kind": "realtime"}, "kind: 'realtime' is not one of Scheduled, NRT"),
    ],
)
def test_nrt_contradictions_are_refused(options, message):
    with pytest.raises(SigmaError, match=re.escape(message)):
        convert(rule_text(), "yaml", **options)


def test_nrt_refuses_a_union_of_tables():
    from sigma_azure_aks.batch import resolve_pipelines

    text = rule_text().replace("service: activitylogs", "service: signinlogs").replace(
        "operationName: MICROSOFT.COMPUTE/VIRTUALMACHINES/DELETE", "ResultType: 50053"
    )
    backend = SentinelBackend(resolve_pipelines(["azure_signinlogs_all"]), kind="nrt")
    with pytest.raises(SigmaError, match=re.escape(
        "kind NRT: the query is a union of SigninLogs, AADNonInteractiveUserSignInLogs, "
        "AADServicePrincipalSignInLogs, AADManagedIdentitySignInLogs; Sentinel's near-real-time rules cannot "
        f"use joins or unions, nor query more than one table ({facts.NRT_LIMITS_URL})"
    )):
        backend.convert(SigmaCollection.from_yaml(text), "yaml")


def test_nrt_refuses_a_correlation():
    folder = REPO_ROOT / "rules" / "correlations"
    text = "---\n".join(
        (folder / name).read_text()
        for name in ("azure_resource_deleted.yml", "correlation_azure_mass_resource_deletion.yml")
    )
    with pytest.raises(SigmaError, match=re.escape(
        "kind NRT: a correlation rule counts events across a time window, which a near-real-time rule (only "
        "the rows ingested since its previous run, about a minute) cannot see; export it as a Scheduled rule"
    )):
        SentinelBackend(kind="nrt").convert(SigmaCollection.from_yaml(text), "arm")


@pytest.mark.parametrize(
    ("query", "operator"),
    [
        ("AzureActivity\n| join kind=inner (AuditLogs) on CorrelationId", "join"),
        ("union AzureActivity, AuditLogs\n| where x == 1", "union"),
        ("AzureActivity\n| lookup (Watch) on Caller", "lookup"),
        ('AzureActivity\n| where Caller == "a | join b"', None),  # in a string literal
        ("AzureActivity\n| where OperationName has @'x | union y'", None),
        ("AzureActivity\n| where joined == 1", None),
    ],
)
def test_nrt_operator_check_reads_operators_not_literals(query, operator):
    from dataclasses import replace

    from sigma_azure_aks.analytics.model import build_rule, nrt_problem

    model = build_rule(one_rule(rule_text()), "AzureActivity\n| where Caller == 1", "AzureActivity", {"kind": "nrt"})
    problem = nrt_problem(replace(model, query=query))
    if operator is None:
        assert problem is None
    else:
        assert problem is not None and problem.startswith(f"kind NRT: the query uses `{operator}`;")
