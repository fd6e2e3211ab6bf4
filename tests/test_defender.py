"""Format `defender`: Microsoft Graph v1.0 custom detection rule bodies, exact for the seed, valid
against the pinned v1.0 metadata for every rule, adapted queries accepted by Microsoft's KQL parser,
refusals with their reason, through sigma-cli and `export --format defender`."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO_ROOT, shared_path
from graph_csdl import COLLECTION, load, problems
from sigma.collection import SigmaCollection
from sigma.exceptions import SigmaError

from sigma_azure_aks.analytics.defender import ENTITY_PROPERTIES
from sigma_azure_aks.backend import SentinelBackend
from sigma_azure_aks.commands import main
from sigma_azure_aks.sources import all_sources

SCHEMA = load()
BODY = "detectionRule"


def seed_rule() -> str:
    """The SigmaHQ rule of the docs' worked example (docs/formats.md)."""
    spec = importlib.util.spec_from_file_location(
        "docs_page_formats", REPO_ROOT / "docs" / "pages" / "formats.py"
    )
    assert spec is not None and spec.loader is not None
    page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(page)
    return str(page.example_rule((REPO_ROOT / "docs" / "formats.md").read_text(encoding="utf-8")))


def convert(rule_text: str, options: dict[str, Any] | None = None) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the seed's data-plane notice, explained in docs/formats.md
        result = SentinelBackend(None, **(options or {})).convert(
            SigmaCollection.from_yaml(rule_text), "defender"
        )
    return str(result)


SEED_QUERY = (
    "AzureActivity\n"
    "| where ingestion_time() > ago(1h)\n"
    '| where (OperationNameValue startswith "MICROSOFT.KUBERNETES/CONNECTEDCLUSTERS/BATCH" or OperationNameValue '
    'startswith "MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/BATCH") and (OperationNameValue endswith '
    '"/CRONJOBS/WRITE" or OperationNameValue endswith "/JOBS/WRITE")\n'
    '| extend AccountUpn = iff(Caller contains "@", Caller, ""), AccountObjectId = iff(Caller matches regex '
    '"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", Caller, "")'
)
SEED_DESCRIPTION = (
    "Identifies when a Azure Kubernetes CronJob runs in Azure Cloud. Kubernetes Job is a controller that creates "
    "one or more pods and ensures that a specified number of them successfully terminate.\nKubernetes Job can be "
    "used to run containers that perform finite tasks for batch jobs. Kubernetes CronJob is used to schedule "
    "Jobs.\nAn Adversary may use Kubernetes CronJob for scheduling execution of malicious code that would run as "
    "a container in the cluster.\n\nFalse positives:\n- Azure Kubernetes CronJob/Job may be done by a system "
    "administrator.\n- If known behavior is causing false positives, it can be exempted from the rule.\n\n"
    "References:\n- https://learn.microsoft.com/en-us/azure/role-based-access-control/resource-provider-operations"
    "#microsoftkubernetes\n- https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/\n"
    "- https://kubernetes.io/docs/concepts/workloads/controllers/job/\n"
    "- https://www.microsoft.com/security/blog/2020/04/02/attack-matrix-kubernetes/\n\n"
    "Sigma rule 1c71e254-6655-42c1-b2d6-5e4718d7fc0a by Austin Songer @austinsonger, Detection Rule License 1.1"
)
T1053 = [{"subTechniques": ["T1053.003"], "technique": "T1053"}]


def seed_body(frequency: str = "PT1H", query: str = SEED_QUERY) -> dict[str, Any]:
    return {
        "detectionAction": {
            "alertTemplate": {
                "description": SEED_DESCRIPTION,
                "entityMappings": {
                    "accounts": [{"aadUserIdColumn": "AccountObjectId", "upnColumn": "AccountUpn"}],
                    "azureResources": [{"resourceIdColumn": "_ResourceId"}],
                    "ips": [{"addressColumn": "CallerIpAddress"}],
                },
                "severity": "medium",
                "tactics": [
                    {"tactic": "Persistence", "techniques": T1053},
                    {"tactic": "PrivilegeEscalation", "techniques": T1053},
                    {"tactic": "Execution", "techniques": T1053},
                ],
                "title": "Azure Kubernetes CronJob",
            }
        },
        "displayName": "Azure Kubernetes CronJob",
        "isEnabled": True,
        "queryCondition": {"queryText": query},
        "schedule": {"frequency": frequency},
    }


def dumped(body: dict[str, Any]) -> str:
    return json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_seed_body_is_exact() -> None:
    assert convert(seed_rule()) == dumped(seed_body())


def test_seed_body_at_1d_and_nrt() -> None:
    assert convert(seed_rule(), {"query_frequency": "1d"}) == dumped(
        seed_body("P1D", SEED_QUERY.replace("ago(1h)", "ago(1d)"))
    )
    unbounded = SEED_QUERY.replace("| where ingestion_time() > ago(1h)\n", "")
    assert convert(seed_rule(), {"kind": "nrt"}) == dumped(seed_body("PT0S", unbounded))


def test_no_beta_shape_is_written() -> None:
    text = convert(seed_rule())
    for removed in ('"period"', '"category"', '"mitreTechniques"', '"impactedAssets"', '"responseActions"'):
        assert removed not in text


# ---- the v1.0 metadata --------------------------------------------------------------------------


def test_seed_bodies_fit_the_v1_metadata() -> None:
    for options in ({}, {"query_frequency": "1d"}, {"query_frequency": "30m"}, {"kind": "nrt"}):
        assert problems(SCHEMA, json.loads(convert(seed_rule(), options)), BODY) == [], options


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda b: b.pop("displayName"), "$.displayName: required on detectionRule, missing"),
        (lambda b: b.update(isEnabled="true"), "$.isEnabled: expected true or false, got 'true'"),
        (lambda b: b["schedule"].update(period="1H"), "$.schedule.period: no such property on ruleSchedule"),
        (
            lambda b: b["schedule"].update(frequency="1h"),
            "$.schedule.frequency: expected an ISO 8601 duration, got '1h'",
        ),
        (
            lambda b: b["detectionAction"]["alertTemplate"].update(severity="Medium"),
            "$.detectionAction.alertTemplate.severity: 'Medium' is not one of unknown, informational, low, medium, "
            "high, unknownFutureValue",
        ),
        (
            lambda b: b["detectionAction"]["alertTemplate"].update(impactedAssets=[]),
            "$.detectionAction.alertTemplate.impactedAssets: no such property on alertTemplate",
        ),
        (
            lambda b: b["detectionAction"]["alertTemplate"]["tactics"][0].update(techniques="T1053"),
            "$.detectionAction.alertTemplate.tactics[0].techniques: expected a list "
            "(Collection(microsoft.graph.security.mitreTechnique)), got str",
        ),
        (
            lambda b: b["detectionAction"]["alertTemplate"]["entityMappings"]["ips"][0].update(address="IP"),
            "$.detectionAction.alertTemplate.entityMappings.ips[0].address: no such property on ipEntityMapping",
        ),
    ],
)
def test_a_wrong_body_fails_the_metadata(change: Any, expected: str) -> None:
    body = seed_body()
    change(body)
    assert problems(SCHEMA, body, BODY) == [expected]


def project_rules() -> list[Path]:
    return sorted(p for p in (REPO_ROOT / "rules").rglob("*.yml") if "correlations" not in p.parts)


def test_every_project_rule_fits_the_v1_metadata(kql: Any) -> None:
    """Every single-event rule of rules/: a valid body, whose query Microsoft's parser accepts and
    returns TimeGenerated and every column the entities map."""
    assert project_rules()
    for path in project_rules():
        body = json.loads(convert(path.read_text(encoding="utf-8")))
        assert problems(SCHEMA, body, BODY) == [], path.name
        query = body["queryCondition"]["queryText"]
        assert kql.errors(query) == [], path.name
        columns = set(kql.result_columns(query))
        mapped = {
            c
            for m in body["detectionAction"]["alertTemplate"]["entityMappings"].values()
            for e in m
            for c in e.values()
        }
        assert {"TimeGenerated", *mapped} <= columns, path.name


def test_every_profile_entity_has_a_custom_detection_mapping() -> None:
    """Each source's entities keep at least one column in the v1.0 mapping (none dropped whole)."""
    for source in all_sources():
        for mapping in source.profile.entity_mappings if source.profile else ():
            collection, properties = ENTITY_PROPERTIES[mapping.entity_type]
            assert any(identifier in properties for identifier, _ in mapping.field_mappings), (
                source.table,
                mapping,
            )
            declared = COLLECTION.fullmatch(
                SCHEMA.all_properties("entityMappingConfiguration")[collection].type
            )
            assert declared is not None, collection
            item = SCHEMA.local(declared.group(1))
            assert set(properties.values()) <= set(SCHEMA.all_properties(item)), mapping.entity_type


# ---- refusals --------------------------------------------------------------------------------------


def refusal(rule_text: str, options: dict[str, Any] | None = None) -> str:
    with pytest.raises(SigmaError) as raised, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SentinelBackend(None, **(options or {})).convert(SigmaCollection.from_yaml(rule_text), "defender")
    return str(raised.value)


def test_query_period_is_refused_with_the_reason() -> None:
    assert refusal(seed_rule(), {"query_period": "3h"}).endswith(
        "format defender: query_period 3h: a v1.0 custom detection has no look-back setting (schedule.frequency "
        "only; Defender sets the look-back), so the rule would not read what query_period says; leave "
        "query_period out for the defender format"
    )


def test_trigger_is_refused_with_the_reason() -> None:
    assert refusal(seed_rule(), {"trigger_threshold": "2"}).endswith(
        "format defender: a custom detection alerts on every result row and has no trigger setting; leave "
        "trigger_operator and trigger_threshold out for the defender format"
    )


def test_nrt_runs_only_on_the_tables_microsoft_lists() -> None:
    from sigma_azure_aks.pipelines import all_pipelines

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SigmaError) as raised:
            SentinelBackend(all_pipelines()["aks_dataplane"](), kind="nrt").convert(
                SigmaCollection.from_yaml(seed_rule()), "defender"
            )
    assert str(raised.value).endswith(
        "format defender: kind NRT: Defender runs custom detections continuously only on the tables Microsoft "
        "lists (https://learn.microsoft.com/defender-xdr/custom-detection-rules#tables-that-support-continuous-"
        "nrt-frequency), and AKSAudit is not one of them; leave out kind (a scheduled custom detection, every 5 "
        "minutes at the least)"
    )
    assert json.loads(convert(seed_rule(), {"kind": "nrt"}))["schedule"] == {
        "frequency": "PT0S"
    }  # AzureActivity


def test_correlation_is_refused_with_the_reason() -> None:
    folder = REPO_ROOT / "rules" / "correlations"
    documents = [
        (folder / name).read_text(encoding="utf-8")
        for name in ("azure_resource_deleted.yml", "correlation_azure_mass_resource_deletion.yml")
    ]
    assert refusal("\n---\n".join(documents)).endswith(
        "format defender: a correlation rule counts events across a time window, and a v1.0 custom detection has "
        "no look-back setting to hold it (schedule.frequency only); deploy it as a Sentinel analytics rule "
        "(-f arm or json)"
    )


# ---- sigma-cli and export ------------------------------------------------------------------------


def test_sigma_cli_convert_format_defender(tmp_path: Path) -> None:
    sigma = Path(sys.executable).with_name("sigma")
    if not sigma.is_file():
        pytest.skip("sigma-cli not installed beside python")
    rule = tmp_path / "seed.yml"
    rule.write_text(seed_rule(), encoding="utf-8")
    done = subprocess.run(
        [str(sigma), "convert", "-t", "sentinel", "-f", "defender", str(rule)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == seed_body()


def test_export_format_defender_writes_one_body_per_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = REPO_ROOT / "rules" / "azure_activity"
    out = tmp_path / "out"
    assert main(["export", str(rules), "--format", "defender,json", "--out", str(out)]) == 0
    count = len(list(rules.glob("*.yml")))
    assert capsys.readouterr().err.endswith(f"{count} rules converted, 0 failed\n")
    bodies = sorted((out / "defender").glob("*.json"))
    assert len(bodies) == count
    for path in bodies:
        assert problems(SCHEMA, json.loads(path.read_text(encoding="utf-8")), BODY) == [], path.name
    manifest = json.loads((out / "sentinel-manifest.json").read_text(encoding="utf-8"))
    assert sorted(rule["files"]["defender"] for rule in manifest["rules"]) == [
        f"defender/{path.name}" for path in bodies
    ]


@pytest.mark.slow
def test_every_corpus_rule_is_a_valid_body_or_refused_with_the_reason(kql: Any, report: Any) -> None:
    """Every SigmaHQ rule the target converts (shared corpus, every source): the body fits the v1.0
    metadata and its query parses with TimeGenerated and the mapped columns in the results; a rule
    that is a Sentinel analytics rule (`json`) but no custom detection fails naming the format."""
    from sigma_azure_aks.analytics import render_rule
    from sigma_azure_aks.batch import convert_paths

    corpus = shared_path("corpus", "sigmahq")
    folders = sorted(p for p in corpus.iterdir() if p.is_dir() and not p.name.startswith("_"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = convert_paths(folders).converted
        bodies, refused = 0, 0
        for item in converted:
            try:
                sentinel = render_rule(item.rule, item.query, item.table, "json", {}, union=item.union)
            except ValueError:
                continue  # no analytics rule either (e.g. a deprecated rule): not the format's concern
            assert sentinel
            try:
                body = json.loads(
                    render_rule(item.rule, item.query, item.table, "defender", {}, union=item.union)
                )
            except ValueError as error:
                assert str(error).startswith("format defender: "), (item.path, error)
                refused += 1
                continue
            bodies += 1
            assert problems(SCHEMA, body, BODY) == [], item.path
            query = body["queryCondition"]["queryText"]
            assert query == json.loads(sentinel)["properties"]["query"], (
                item.path
            )  # the Sentinel rule's query
            assert kql.errors(query) == [], item.path
            mapped = {
                c
                for m in body["detectionAction"]["alertTemplate"]["entityMappings"].values()
                for e in m
                for c in e.values()
            }
            assert {"TimeGenerated", *mapped} <= set(kql.result_columns(query)), item.path
    report(f"defender: {bodies} corpus rules as v1.0 bodies, {refused} refused with the reason")
    assert bodies > 100
